"""Multi-person tracker giving stable ids: IoU + Hungarian with constant-velocity box prediction.

Why our own and not a library (checked on PyPI, Nov 2026):
- `boxmot` (BoT-SORT/ByteTrack/OC-SORT, maintained) is AGPL-3.0 and pulls torchvision, timm,
  pandas, scikit-learn and a CUDA torch: incompatible with this Apache-2.0 package and its
  no-torchvision rule.
- `supervision` (MIT, maintained) has a ByteTrack, but pulls `av` (FFmpeg bindings) and requests,
  hides track states (no tentative/lost distinction to evict ring buffers on), and re-indexes
  detections through its own container type.
- `ocsort` (0.0.2) is an unmaintained two-release upload; `norfair` tracks points with a
  Kalman filter from `filterpy` rather than boxes by IoU.
The tracker a person pipeline needs is small (one Hungarian call on an IoU matrix per frame),
so it lives here on scipy, with states the ring buffer and the propagation step can read.

States: a new track is TENTATIVE until it has `min_hits` matches (then CONFIRMED); a tentative
track missed once is dropped (likely a false detection); a confirmed track missed becomes LOST
and coasts on its velocity for up to `max_age` frames, so a person hidden while two paths cross
is picked up again under the same id.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from fasthmr_ros.pipeline.detection import Detection, iou_matrix


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


def _to_cxcywh(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]])


def _to_xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = state
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass
class Track:
    """One person over time. `state` is (cx, cy, w, h) pixels, `velocity` its change per frame."""

    track_id: int
    state: np.ndarray
    detection: Detection
    status: TrackState = TrackState.TENTATIVE
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    hits: int = 1
    missed: int = 0
    age: int = 1

    @property
    def box(self) -> np.ndarray:
        """(4,) x1, y1, x2, y2 where the tracker believes the person is now."""
        return _to_xyxy(self.state)

    def predict(self) -> None:
        self.state = self.state + self.velocity
        self.state[2:] = np.maximum(self.state[2:], 1.0)
        self.age += 1

    def correct(self, detection: Detection, gain: float) -> None:
        """Alpha-beta update: the box follows the detection, the velocity follows the residual."""
        measured = _to_cxcywh(detection.bbox)
        residual = measured - self.state
        # The second sighting is the first velocity measurement: take it whole.
        self.velocity = self.velocity + (1.0 if self.hits == 1 else gain) * residual
        self.state = measured
        self.detection = detection
        self.hits += 1
        self.missed = 0


@dataclass
class TrackedDetection:
    """A detection with the id of the track it belongs to in this frame."""

    track_id: int
    detection: Detection
    status: TrackState


@dataclass
class TrackerUpdate:
    tracked: list[TrackedDetection]  # persons to process this frame (confirmed tracks, matched now)
    removed_ids: list[int]  # tracks dropped this frame (their histories can be evicted)


class Tracker:
    """IoU + Hungarian association of detections to constant-velocity track predictions."""

    def __init__(
        self,
        iou_threshold: float = 0.3,
        min_hits: int = 1,
        max_age: int = 30,
        velocity_gain: float = 0.5,
    ) -> None:
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"tracker iou_threshold must be in (0, 1], got {iou_threshold}")
        if min_hits < 1 or max_age < 0:
            raise ValueError("tracker min_hits must be >= 1 and max_age >= 0")
        self.iou_threshold = iou_threshold
        self.min_hits = min_hits
        self.max_age = max_age
        self.velocity_gain = velocity_gain
        self.tracks: list[Track] = []
        self._next_id = 1

    def get(self, track_id: int) -> Track | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def update(
        self, detections: Sequence[Detection], track_ids: Sequence[int] | None = None
    ) -> TrackerUpdate:
        """Advance one frame.

        `track_ids`, when given, says which track each detection already belongs to (boxes
        propagated from those tracks' previous results): association is skipped for them.
        """
        for track in self.tracks:
            track.predict()
        if track_ids is not None:
            if len(track_ids) != len(detections):
                raise ValueError("track_ids must give one id per detection")
            pairs = self._known_pairs(detections, track_ids)
        else:
            pairs = self._associate(detections)
        matched_tracks = {id(t) for t, _ in pairs}
        matched_dets = {i for _, i in pairs}
        for track, det_index in pairs:
            track.correct(detections[det_index], self.velocity_gain)
            if track.status is not TrackState.CONFIRMED and track.hits >= self.min_hits:
                track.status = TrackState.CONFIRMED
        removed = self._age_unmatched(matched_tracks)
        if track_ids is None:
            for i, det in enumerate(detections):
                if i not in matched_dets:
                    self._start_track(det)
        tracked = [
            TrackedDetection(t.track_id, t.detection, t.status)
            for t in self.tracks
            if t.missed == 0 and t.status is TrackState.CONFIRMED
        ]
        return TrackerUpdate(tracked, removed)

    def _known_pairs(
        self, detections: Sequence[Detection], track_ids: Sequence[int]
    ) -> list[tuple[Track, int]]:
        pairs = []
        for i, track_id in enumerate(track_ids):
            track = self.get(track_id)
            if track is None:
                raise ValueError(f"no live track {track_id} to propagate a box to")
            pairs.append((track, i))
        return pairs

    def _associate(self, detections: Sequence[Detection]) -> list[tuple[Track, int]]:
        if not self.tracks or not detections:
            return []
        predicted = np.stack([t.box for t in self.tracks])
        observed = np.stack([d.bbox for d in detections])
        iou = iou_matrix(predicted, observed)  # (T, D)
        rows, cols = linear_sum_assignment(1.0 - iou)
        pairs = zip(rows, cols, strict=True)
        return [(self.tracks[r], int(c)) for r, c in pairs if iou[r, c] >= self.iou_threshold]

    def _age_unmatched(self, matched: set[int]) -> list[int]:
        removed, alive = [], []
        for track in self.tracks:
            if id(track) not in matched:
                track.missed += 1
                if track.status is TrackState.TENTATIVE or track.missed > self.max_age:
                    removed.append(track.track_id)
                    continue
                track.status = TrackState.LOST
            alive.append(track)
        self.tracks = alive
        return removed

    def _start_track(self, detection: Detection) -> None:
        status = TrackState.CONFIRMED if self.min_hits <= 1 else TrackState.TENTATIVE
        self.tracks.append(Track(self._next_id, _to_cxcywh(detection.bbox), detection, status))
        self._next_id += 1
