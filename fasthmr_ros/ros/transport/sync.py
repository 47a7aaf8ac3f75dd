"""Live approximate-time pairing of Image + CameraInfo (+ Detection2DArray) by header stamp.

message_filters' ApproximateTimeSynchronizer does this on rclpy; transports without it (DDS)
use this one. It pairs each image with the nearest-stamp CameraInfo (and detections) within
`slop`, never reorders images, and counts every image it gives up on, so the node can report
drops. CameraInfo is not consumed: one calibration message may serve several images.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fasthmr_ros.ros.convert import time_to_ns


@dataclass
class InputFrame:
    """One paired input: the messages as the transport delivered them (rosbags objects)."""

    image: Any  # sensor_msgs/Image or CompressedImage
    camera_info: Any  # sensor_msgs/CameraInfo
    detections: Any | None  # vision_msgs/Detection2DArray, when subscribed
    stamp_ns: int  # the image's header stamp
    frame_id: str
    received_ns: int  # when the image arrived


@dataclass
class _Stamped:
    stamp_ns: int
    msg: Any
    received_ns: int


def _nearest(items: deque[_Stamped], stamp_ns: int, slop_ns: int) -> _Stamped | None:
    best = min(items, key=lambda s: abs(s.stamp_ns - stamp_ns), default=None)
    return best if best is not None and abs(best.stamp_ns - stamp_ns) <= slop_ns else None


class ApproximateSync:
    """Feed messages with `add_image` / `add_camera_info` / `add_detections`; matches go to `on_frame`."""

    def __init__(
        self,
        on_frame: Callable[[InputFrame], None],
        slop_s: float = 0.05,
        with_detections: bool = False,
        queue_size: int = 10,
    ) -> None:
        self.on_frame = on_frame
        self.slop_ns = round(slop_s * 1e9)
        self.with_detections = with_detections
        self._images: deque[_Stamped] = deque()
        self._infos: deque[_Stamped] = deque(maxlen=queue_size)
        self._detections: deque[_Stamped] = deque(maxlen=queue_size)
        self.queue_size = queue_size
        self.matched = 0
        self.unmatched = 0  # images dropped without a partner (too old, or queue overflow)
        self._lock = threading.Lock()

    def add_image(self, msg: Any, received_ns: int) -> None:
        with self._lock:
            self._images.append(_Stamped(time_to_ns(msg.header.stamp), msg, received_ns))
            if len(self._images) > self.queue_size:
                self._images.popleft()
                self.unmatched += 1
        self._match()

    def add_camera_info(self, msg: Any, received_ns: int) -> None:
        with self._lock:
            self._infos.append(_Stamped(time_to_ns(msg.header.stamp), msg, received_ns))
        self._match()

    def add_detections(self, msg: Any, received_ns: int) -> None:
        with self._lock:
            self._detections.append(_Stamped(time_to_ns(msg.header.stamp), msg, received_ns))
        self._match()

    def _expired(self, image: _Stamped, side: deque[_Stamped]) -> bool:
        """No partner can still come: the side stream has moved past the image's window."""
        return bool(side) and max(s.stamp_ns for s in side) > image.stamp_ns + self.slop_ns

    def _match(self) -> None:
        ready: list[InputFrame] = []
        with self._lock:
            keep: deque[_Stamped] = deque()
            for image in self._images:
                info = _nearest(self._infos, image.stamp_ns, self.slop_ns)
                dets = (
                    _nearest(self._detections, image.stamp_ns, self.slop_ns) if self.with_detections else None
                )
                if info is not None and (dets is not None or not self.with_detections):
                    ready.append(InputFrame(image.msg, info.msg, dets.msg if dets else None, image.stamp_ns,
                                            image.msg.header.frame_id, image.received_ns))  # fmt: skip
                elif (info is None and self._expired(image, self._infos)) or (
                    self.with_detections and dets is None and self._expired(image, self._detections)
                ):
                    self.unmatched += 1
                else:
                    keep.append(image)
            self._images = keep
            self.matched += len(ready)
        for frame in ready:
            self.on_frame(frame)
