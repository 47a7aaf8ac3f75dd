"""ROS 2 messages over rclpy, as rosbags objects: raw CDR both ways, so the rclpy and DDS
transports send byte-identical messages; message classes are found by name with importlib
(rosidl_runtime_py's get_message does the same; it is not on PyPI)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from rclpy.lifecycle import LifecycleNode
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.messages.typestore import get_typestore
from fasthmr_ros.ros.transport.base import MessageCallback, Publisher, QosProfile, Transport


class MissingMessageError(FastHMRError):
    """A message type's ROS package is not installed."""


def message_class(msgtype: str) -> type:
    """The rclpy class of "pkg/msg/Type" (importlib; rosidl_runtime_py is not on PyPI)."""
    package, kind, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError) as exc:
        raise MissingMessageError(
            f"{msgtype} is not available: install the ROS 2 package {package} "
            f"(apt: ros-$ROS_DISTRO-{package.replace('_', '-')}; pip wheels: ros-{package.replace('_', '-')})"
        ) from exc


def has_message(msgtype: str) -> bool:
    try:
        message_class(msgtype)
    except MissingMessageError:
        return False
    return True


def _rclpy_qos(qos: QosProfile) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE,
    )


class RclpyPublisher(Publisher):
    def __init__(self, transport: RclpyTransport, topic: str, msgtype: str, publisher: Any) -> None:
        self.topic, self.msgtype = topic, msgtype
        self._publisher = publisher
        self.typestore = transport.typestore

    def publish_cdr(self, cdr: bytes) -> None:
        self._publisher.publish(cdr)  # rclpy publishes bytes as a serialised message


class RclpyTransport(Transport):
    """rosbags objects over an rclpy node: raw CDR both ways (rclpy resolves names itself).
    Subscription callbacks run in `callback_group`."""

    def __init__(self, node: LifecycleNode, store: str, callback_group: Any) -> None:
        super().__init__("", logging.getLogger("fasthmr.rclpy"))
        self.node = node
        self.typestore = get_typestore(store)
        self.callback_group = callback_group
        self._endpoints: list[Any] = []

    def resolve(self, topic: str) -> str:
        return topic

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def advertise(self, topic: str, msgtype: str, qos: QosProfile) -> RclpyPublisher:
        publisher: Any = self.node.create_publisher(message_class(msgtype), topic, _rclpy_qos(qos))
        self._endpoints.append(publisher)
        return RclpyPublisher(self, topic, msgtype, publisher)

    def subscribe(self, topic: str, msgtype: str, callback: MessageCallback, qos: QosProfile) -> None:
        def on_raw(raw: bytes) -> None:
            try:
                msg = self.typestore.deserialize_cdr(raw, msgtype)
            except Exception as exc:
                self.malformed[topic] += 1
                self.logger.warning("dropping malformed %s on %s: %s", msgtype, topic, exc)
                return
            callback(msg, self.now_ns())

        sub = self.node.create_subscription(
            message_class(msgtype),
            topic,
            on_raw,
            _rclpy_qos(qos),
            raw=True,
            callback_group=self.callback_group,
        )
        self._endpoints.append(sub)

    def close(self) -> None:
        for endpoint in self._endpoints:
            if hasattr(endpoint, "publish"):
                self.node.destroy_publisher(endpoint)
            else:
                self.node.destroy_subscription(endpoint)
        self._endpoints.clear()
