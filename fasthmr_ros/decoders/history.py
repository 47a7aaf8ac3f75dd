"""Per-person history of the last W frames, read by the temporal decoders.

The decoders define what a history holds; the pipeline owns the buffer and its track lifetimes
(it knows when a person is lost). Entries are numpy so the buffer costs nothing on the GPU and
survives backend changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class TrackFrame:
    """What one frame contributed to one track's history."""

    stamp_ns: int
    head_token: np.ndarray  # (D,) the SMPL head's final query token (D=1024 for vit_h)
    global_orient: np.ndarray  # (3, 3) regression-head root rotation
    body_pose: np.ndarray  # (23, 3, 3) regression-head (or decoder) joint rotations
    betas: np.ndarray  # (10,)
    pred_cam: np.ndarray  # (3,) crop camera
    joints3d: np.ndarray | None = None  # (J, 3) camera frame, metres


class TrackRingBuffer:
    """A bounded history per track id, with eviction of tracks not seen for a while."""

    def __init__(self, window: int = 16, max_missed_frames: int = 30) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.max_missed_frames = max_missed_frames
        self._tracks: dict[int, deque[TrackFrame]] = {}
        self._missed: dict[int, int] = {}

    def push(self, track_id: int, frame: TrackFrame) -> None:
        buf = self._tracks.get(track_id)
        if buf is None:
            buf = self._tracks[track_id] = deque(maxlen=self.window)
        buf.append(frame)
        self._missed[track_id] = 0

    def history(self, track_id: int) -> list[TrackFrame]:
        """Oldest first; empty for an unknown track."""
        return list(self._tracks.get(track_id, ()))

    def end_frame(self, seen_track_ids: set[int]) -> list[int]:
        """Age tracks not seen this frame; drop those missed too long. Returns evicted ids."""
        evicted = []
        for track_id in list(self._tracks):
            if track_id in seen_track_ids:
                continue
            self._missed[track_id] += 1
            if self._missed[track_id] > self.max_missed_frames:
                del self._tracks[track_id], self._missed[track_id]
                evicted.append(track_id)
        return evicted

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._tracks

    def __len__(self) -> int:
        return len(self._tracks)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._tracks))
