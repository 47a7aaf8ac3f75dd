"""Approximate-time pairing of live Image + CameraInfo (+ Detection2DArray) for both live nodes.

The job of message_filters' ApproximateTimeSynchronizer (not on PyPI), done with the bag tool's
`StampIndex` (nearest stamp within the slop) over a rolling window of side messages. Images wait
(briefly) for partners that arrive after them. Pairs come out in stamp order and only the
newest: once an image pairs, older waiting images are stale and are reported as superseded,
since the node keeps only the newest frame anyway.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fasthmr_ros.ros.bag import Stamped, StampIndex
from fasthmr_ros.ros.convert import time_to_ns

SIDE_WINDOW = 60  # side messages kept per topic (2 s of 30 Hz CameraInfo)
WAITING_IMAGES = 8  # images kept while their partners are missing


@dataclass
class Paired:
    stamp_ns: int
    received_ns: int
    image: Any
    camera_info: Any
    detections: Any | None


class LivePairer:
    """Thread-safe: `add_*` may be called from any transport thread; `on_pair` runs on the caller's."""

    def __init__(self, slop_s: float, with_detections: bool, on_pair: Callable[[Paired], None]) -> None:
        self.slop_ns = round(slop_s * 1e9)
        self.on_pair = on_pair
        self.infos = StampIndex([])
        self.detections = StampIndex([]) if with_detections else None
        self._waiting: list[tuple[int, int, Any]] = []  # (stamp, received, image) in stamp order
        self._lock = threading.Lock()
        # Images that never became a pair, by reason (no_camera_info, no_detections, superseded).
        self.unpaired: Counter[str] = Counter()

    def add_image(self, msg: Any, received_ns: int) -> None:
        stamp = time_to_ns(msg.header.stamp)
        with self._lock:
            self._waiting.append((stamp, received_ns, msg))
            self._waiting.sort(key=lambda w: w[0])
            if len(self._waiting) > WAITING_IMAGES:
                self._waiting.pop(0)
                self.unpaired["superseded"] += 1
            ready = self._match()
        if ready is not None:
            self.on_pair(ready)

    def add_camera_info(self, msg: Any, received_ns: int) -> None:
        self._add_side(self.infos, msg)

    def add_detections(self, msg: Any, received_ns: int) -> None:
        if self.detections is not None:
            self._add_side(self.detections, msg)

    def _add_side(self, index: StampIndex, msg: Any) -> None:
        with self._lock:
            index.add(Stamped(time_to_ns(msg.header.stamp), msg), SIDE_WINDOW)
            ready = self._match()
        if ready is not None:
            self.on_pair(ready)

    def _match(self) -> Paired | None:
        """The newest waiting image with all partners; drops what can no longer pair."""
        for i in range(len(self._waiting) - 1, -1, -1):
            stamp, received, image = self._waiting[i]
            info = self.infos.nearest(stamp, self.slop_ns)
            dets = None if self.detections is None else self.detections.nearest(stamp, self.slop_ns)
            if info is not None and (self.detections is None or dets is not None):
                if i:
                    self.unpaired["superseded"] += i
                del self._waiting[: i + 1]
                return Paired(stamp, received, image, info, dets)
        self._waiting = [w for w in self._waiting if not self._hopeless(w[0])]
        return None

    def _hopeless(self, stamp: int) -> bool:
        """A partner topic has moved past the slop with nothing near: stamps only grow, so none will come."""
        for reason, index in (("no_camera_info", self.infos), ("no_detections", self.detections)):
            if index is None or index.nearest(stamp, self.slop_ns) is not None:
                continue
            newest = index.newest_ns
            if newest is not None and newest > stamp + self.slop_ns:
                self.unpaired[reason] += 1
                return True
        return False
