"""The transport interface the node is written against.

Why an interface: the same node logic runs on rclpy (robots) and on plain Cyclone DDS speaking
the ROS 2 wire format (no ROS installed). Both exchange *rosbags* message objects, so messages are
built once (`fasthmr_ros.ros.messages.builders`) from our .msg definitions whichever transport carries them.

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

from rosbags.typesys.store import Typestore


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
    typestore: Typestore  # serialises the message objects `publish` is given

    def publish(self, msg: Any) -> None:
        """Send a rosbags message object of `msgtype`, or its CDR bytes as they are (like rclpy's
        `publish`, which also takes serialised messages)."""
        if isinstance(msg, (bytes, bytearray, memoryview)):
            self.publish_cdr(bytes(msg))
        else:
            self.publish_cdr(bytes(self.typestore.serialize_cdr(msg, self.msgtype)))

    @abstractmethod
    def publish_cdr(self, cdr: bytes) -> None:
        """Send an already serialised message (CDR with its 4-byte header), e.g. the MarkerArray
        from `markers.frame_markers`; rclpy publishers accept such bytes as they are."""


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

    @abstractmethod
    def close(self) -> None:
        """Stop delivering callbacks and release every endpoint (idempotent)."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
