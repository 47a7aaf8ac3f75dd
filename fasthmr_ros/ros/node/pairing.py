"""Approximate-time pairing of live Image + CameraInfo (+ Detection2DArray) for both live nodes.

The job of message_filters' ApproximateTimeSynchronizer (not on PyPI), done with `StampIndex`
(nearest stamp within the slop; the bag tool pairs with it too) over a rolling window of side
messages. Images wait (briefly) for partners that arrive after them. Pairs come out in stamp
order and only the newest: once an image pairs, older waiting images are stale and are reported
as superseded, since the node keeps only the newest frame anyway.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fasthmr_ros.ros.messages.builders import time_to_ns

SIDE_WINDOW = 60  # side messages kept per topic (2 s of 30 Hz CameraInfo)
WAITING_IMAGES = 8  # images kept while their partners are missing


@dataclass
class Stamped:
    stamp_ns: int
    msg: Any


class StampIndex:
    """Payloads (messages, or their CDR) sorted by header stamp, for nearest-within-slop lookups."""

    def __init__(self, items: list[Stamped]) -> None:
        self.items = sorted(items, key=lambda s: s.stamp_ns)
        self.stamps = [s.stamp_ns for s in self.items]

    def nearest(self, stamp_ns: int, slop_ns: int) -> Any | None:
        i = bisect.bisect_left(self.stamps, stamp_ns)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self.items)]
        if not candidates:
            return None
        best = min(candidates, key=lambda j: abs(self.stamps[j] - stamp_ns))
        return self.items[best].msg if abs(self.stamps[best] - stamp_ns) <= slop_ns else None

    def add(self, item: Stamped, keep: int) -> None:
        """Insert in stamp order and keep only the newest `keep` (live pairing: a rolling window)."""
        i = bisect.bisect_right(self.stamps, item.stamp_ns)
        self.items.insert(i, item)
        self.stamps.insert(i, item.stamp_ns)
        del self.items[:-keep], self.stamps[:-keep]

    @property
    def newest_ns(self) -> int | None:
        return self.stamps[-1] if self.stamps else None


@dataclass
class Paired:
    stamp_ns: int
    received_ns: int
    image: Any
    camera_info: Any | None  # None: none came (only with `camera_info_optional`)
    detections: Any | None


class LivePairer:
    """Thread-safe: `add_*` may be called from any transport thread; `on_pair` runs on the caller's."""

    def __init__(
        self,
        slop_s: float,
        with_detections: bool,
        on_pair: Callable[[Paired], None],
        camera_info_optional: bool = False,
    ) -> None:
        """`camera_info_optional`: an image pairs without CameraInfo when none has arrived yet or
        the CameraInfo topic has moved past its stamp (the caller then uses default intrinsics)."""
        self.slop_ns = round(slop_s * 1e9)
        self.on_pair = on_pair
        self.camera_info_optional = camera_info_optional
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
            optional = self.camera_info_optional and self._none_coming(self.infos, stamp)
            info_done = info is not None or optional
            if info_done and (self.detections is None or dets is not None):
                if i:
                    self.unpaired["superseded"] += i
                del self._waiting[: i + 1]
                return Paired(stamp, received, image, info, dets)
        self._waiting = [w for w in self._waiting if not self._hopeless(w[0])]
        return None

    def _hopeless(self, stamp: int) -> bool:
        """A partner topic has moved past the slop with nothing near: stamps only grow, so none will come."""
        infos = None if self.camera_info_optional else self.infos
        for reason, index in (("no_camera_info", infos), ("no_detections", self.detections)):
            if index is None or index.nearest(stamp, self.slop_ns) is not None:
                continue
            if index.newest_ns is not None and self._none_coming(index, stamp):
                self.unpaired[reason] += 1
                return True
        return False

    def _none_coming(self, index: StampIndex, stamp: int) -> bool:
        """Nothing near `stamp` will arrive: the topic is silent so far, or has moved past the slop."""
        newest = index.newest_ns
        return newest is None or newest > stamp + self.slop_ns
