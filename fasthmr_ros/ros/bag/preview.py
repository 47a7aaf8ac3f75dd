"""`--preview out.mp4`: the input images with mesh overlays, one video frame per input image.

Skipped frames stay in the video with their reason printed on them, so the video shows exactly
what the summary counts. Colours follow the track ids (the same hues as the RViz markers).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.result import FrameResult
from fasthmr_ros.ros.messages.markers import track_colour
from fasthmr_ros.viz.overlay import draw_boxes, draw_skeleton, render_meshes
from fasthmr_ros.viz.skeletons import edges_for


def track_bgr(track_id: int) -> tuple[int, int, int]:
    r, g, b = track_colour(track_id)
    return round(b * 255), round(g * 255), round(r * 255)


def overlay_frame(rgb: np.ndarray, frame: FrameResult, faces: np.ndarray | None) -> np.ndarray:
    """BGR image with every person's mesh (when vertices exist), skeleton and labelled box."""
    canvas = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    with_mesh = [(p.track_id, p.vertices) for p in frame.persons if p.vertices is not None]
    if with_mesh and faces is not None:
        canvas = render_meshes(
            canvas,
            [(vertices, faces) for _, vertices in with_mesh],
            frame.camera.matrix(),
            colors=[track_bgr(track_id) for track_id, _ in with_mesh],
        )
    for p in frame.persons:
        canvas = draw_skeleton(canvas, p.joints2d, edges_for(p.joint_set), color=track_bgr(p.track_id))
    if frame.persons:
        canvas = draw_boxes(
            canvas,
            np.stack([p.bbox for p in frame.persons]),
            [f"id {p.track_id} {p.score:.2f}" for p in frame.persons],
            colors=[track_bgr(p.track_id) for p in frame.persons],
        )
    return canvas


class PreviewVideo:
    """MP4 writer that sizes itself on the first frame and resizes later odd-sized frames to it."""

    def __init__(self, path: str | Path, fps: float, faces: np.ndarray | None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps if fps > 0 else 10.0
        self.faces = faces
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def add(self, rgb: np.ndarray | None, frame: FrameResult | None, skip_reason: str | None) -> None:
        """One input image: its overlay, or the raw image labelled with why it was skipped."""
        canvas: np.ndarray
        if rgb is None:
            if self._size is None:
                return  # nothing decodable yet to size a blank frame on
            canvas = np.zeros((self._size[1], self._size[0], 3), dtype=np.uint8)
        elif frame is not None:
            canvas = overlay_frame(rgb, frame, self.faces)
        else:
            canvas = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if skip_reason is not None:
            cv2.putText(
                canvas,
                f"skipped: {skip_reason}",
                (10, 30),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.8,
                (0, 0, 255),
                2,
                cv2.LINE_AA,
            )
        self._write(canvas)

    def _write(self, bgr: np.ndarray) -> None:
        if self._writer is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, self._size
            )
            if not self._writer.isOpened():
                raise FastHMRError(f"OpenCV cannot write an MP4 video to {self.path}")
        if (bgr.shape[1], bgr.shape[0]) != self._size:
            bgr = cv2.resize(bgr, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(bgr)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
