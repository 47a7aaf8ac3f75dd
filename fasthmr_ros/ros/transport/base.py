"""The transport interface the node is written against.

Why an interface: the same node logic runs on rclpy (robots) and on plain Cyclone DDS speaking
the ROS 2 wire format (no ROS installed). Both exchange *rosbags* message objects, so messages are
built once (`fasthmr_ros.ros.convert`) from our .msg definitions whichever transport carries them.

Contract for implementations:
- `subscribe` callbacks get a deserialised message and its receive time (ns); a message that
  cannot be deserialised is counted in `malformed[topic]`, logged, and never reaches the callback
  nor raises into the transport.
- `advertise` returns a publisher whose `publish(msg)` serialises and sends.
- Topic names follow ROS rules: absolute ("/a/b") or relative to the transport's namespace.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fasthmr_ros.config import OutputTopicsConfig
from fasthmr_ros.ros import typestore as names
from fasthmr_ros.ros.transport.sync import ApproximateSync, InputFrame


@dataclass(frozen=True)
class QosProfile:
    """The QoS knobs this package uses (a subset of ROS 2's, enough for its topics)."""

    reliable: bool = True
    depth: int = 10
    transient_local: bool = False


# rclpy's qos_profile_sensor_data: best effort matches both best-effort and reliable publishers.
SENSOR_DATA = QosProfile(reliable=False, depth=5)
# Per-frame outputs: ROS 2 default (reliable, keep last 10, volatile).
DEFAULT = QosProfile()
# Published once and kept for late joiners (the fixed mesh triangles).
LATCHED = QosProfile(reliable=True, depth=1, transient_local=True)

MessageCallback = Callable[[Any, int], None]  # (message, receive time ns)


class Publisher(ABC):
    topic: str
    msgtype: str

    @abstractmethod
    def publish(self, msg: Any) -> None:
        """Serialise a rosbags message object of `msgtype` and send it."""


@dataclass
class OutputPublishers:
    humans: Publisher  # fasthmr_ros/HumanMeshArray
    mesh: Publisher  # shape_msgs/Mesh, transient local: publish once
    markers: Publisher  # visualization_msgs/MarkerArray


class Transport(ABC):
    """Pub/sub of rosbags message objects, plus a clock and a logger."""

    def __init__(self, namespace: str = "", logger: logging.Logger | None = None) -> None:
        self.namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
        self.logger = logger or logging.getLogger(f"fasthmr.transport.{type(self).__name__}")
        self.malformed: Counter[str] = Counter()

    def resolve(self, topic: str) -> str:
        """ROS name resolution: relative names live under the namespace."""
        if not topic or topic.startswith("~"):
            raise ValueError(f"unsupported topic name {topic!r}")
        return topic if topic.startswith("/") else f"{self.namespace}/{topic}"

    def now_ns(self) -> int:
        """Wall-clock time in ns (an rclpy transport returns the node clock, sim time included)."""
        return time.time_ns()

    @abstractmethod
    def subscribe(self, topic: str, msgtype: str, callback: MessageCallback, qos: QosProfile) -> None:
        """Call `callback(msg, receive_ns)` for every message arriving on `topic`."""

    @abstractmethod
    def advertise(self, topic: str, msgtype: str, qos: QosProfile) -> Publisher:
        """A publisher for `topic`."""

    def subscribe_camera(
        self,
        image_topic: str,
        camera_info_topic: str,
        on_frame: Callable[[InputFrame], None],
        slop_s: float = 0.05,
        detections_topic: str | None = None,
        compressed: bool = False,
    ) -> ApproximateSync:
        """Paired Image (or CompressedImage) + CameraInfo (+ detections), all with the sensor-data
        QoS (best effort matches best-effort and reliable publishers alike). The returned
        synchroniser counts matched and unmatched images."""
        sync = ApproximateSync(on_frame, slop_s, with_detections=detections_topic is not None)
        self.subscribe(
            image_topic, names.COMPRESSED_IMAGE if compressed else names.IMAGE, sync.add_image, SENSOR_DATA
        )
        self.subscribe(camera_info_topic, names.CAMERA_INFO, sync.add_camera_info, SENSOR_DATA)
        if detections_topic is not None:
            self.subscribe(detections_topic, names.DETECTION_2D_ARRAY, sync.add_detections, SENSOR_DATA)
        return sync

    def advertise_outputs(self, topics: OutputTopicsConfig) -> OutputPublishers:
        """The three output topics with the QoS their consumers expect (the mesh latched)."""
        return OutputPublishers(
            humans=self.advertise(topics.humans, names.HUMAN_MESH_ARRAY, DEFAULT),
            mesh=self.advertise(topics.mesh, names.MESH, LATCHED),
            markers=self.advertise(topics.markers, names.MARKER_ARRAY, DEFAULT),
        )

    @abstractmethod
    def close(self) -> None:
        """Stop delivering callbacks and release every endpoint (idempotent)."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
