"""The frame ladder the bag tool and both node front ends share: image -> CameraInfo ->
detections -> the pipeline's inputs, with one vocabulary of reasons an image yields no result.
The last rung is `pipeline.multi_camera.process_cameras` for every front end: the node with
each camera's newest frame, the bag tool with one image at a time.

No usable CameraInfo (none within the slop, or one the camera maths refuses, such as an
uncalibrated driver's all-zero K) skips the frame, unless `use_default_intrinsics` allows HMR
2.0's focal guess; the caller counts the frames that used it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fasthmr_ros.errors import InputError
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.images import decode_image_message
from fasthmr_ros.pipeline.multi_camera import CameraFrame
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.messages.builders import camera_from_info, detections_from_msg

# Skip reason key -> what it means (the bag summary prints both; the node counts by key).
SKIP_REASONS = {
    "corrupt_record": "image record could not be deserialised",
    "image_decode": "image could not be decoded",
    "no_camera_info": "no CameraInfo within the slop",
    "camera_info": "CameraInfo unusable",
    "no_detections": "no detections within the slop",
    "detections": "detections unusable",
    "pipeline": "pipeline failed on the frame",
}


class FrameSkipError(Exception):
    """This image yields no result: `reason` is a key of SKIP_REASONS; `rgb` is the decoded image
    when there is one; `expected` is False for failures the input's own checks did not name."""

    def __init__(
        self, reason: str, detail: str, rgb: np.ndarray | None = None, expected: bool = True
    ) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.rgb, self.expected = reason, detail, rgb, expected


@dataclass
class FrameInputs:
    rgb: np.ndarray  # (H, W, 3) uint8
    camera: CameraIntrinsics
    detections: list[Detection] | None  # None: the pipeline finds people itself
    default_intrinsics: bool  # no usable CameraInfo: HMR 2.0's focal guess was used

    def camera_frame(self, stamp_ns: int, frame_id: str) -> CameraFrame:
        """This image as one camera's input to `process_cameras`."""
        return CameraFrame(self.rgb, self.camera, stamp_ns, frame_id, self.detections)


def frame_inputs(
    image: Any,
    camera_info: Any | None,
    detections: Any | None,
    stamp_ns: int,
    use_default_intrinsics: bool = False,
    detections_expected: bool = False,
    decode: Callable[[Any], np.ndarray] = decode_image_message,
) -> FrameInputs:
    """The pipeline's inputs from one image and its partners (messages), or FrameSkipError saying why
    not. `camera_info` None: none was found; `detections_expected`: boxes should have come."""
    try:
        rgb = decode(image)
    except Exception as exc:  # cv_bridge raises its own types; all mean "unusable image"
        raise FrameSkipError("image_decode", str(exc), expected=isinstance(exc, InputError)) from exc
    height, width = rgb.shape[:2]
    guessed = False
    if camera_info is None:
        if not use_default_intrinsics:
            raise FrameSkipError("no_camera_info", f"image stamp {stamp_ns} ns", rgb)
        camera, guessed = default_intrinsics(width, height), True
    else:
        try:
            camera = camera_from_info(camera_info, width, height)
        except Exception as exc:
            if not use_default_intrinsics:
                raise FrameSkipError("camera_info", str(exc), rgb, isinstance(exc, InputError)) from exc
            camera, guessed = default_intrinsics(width, height), True
    boxes = None
    if detections is not None:
        try:
            boxes = detections_from_msg(detections)
        except Exception as exc:
            raise FrameSkipError("detections", str(exc), rgb, isinstance(exc, InputError)) from exc
    elif detections_expected:
        raise FrameSkipError("no_detections", f"image stamp {stamp_ns} ns", rgb)
    return FrameInputs(rgb, camera, boxes, guessed)
