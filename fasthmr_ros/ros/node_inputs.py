"""The live node's inputs, whichever transport carries them (rclpy or plain DDS).

Image (or CompressedImage) + CameraInfo (+ Detection2DArray) subscriptions with the configured
QoS, paired by `LivePairer` and handed to `NodeCore` only while the node is active. One path for
both transports: message_filters is not on PyPI, and the pairing rule (nearest stamp within
`slop_s`, newest pair wins) is the same as its ApproximateTimeSynchronizer's for a camera.
Subscriptions are made on the first activation and outlive deactivation (their messages are
ignored until the next activation), as a lifecycle node's inputs usually do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.ros.live_pairing import LivePairer, Paired
from fasthmr_ros.ros.node_core import FrameInput, NodeCore
from fasthmr_ros.ros.transport.base import QosProfile, Transport
from fasthmr_ros.ros.typestore import CAMERA_INFO, COMPRESSED_IMAGE, DETECTION_2D_ARRAY, IMAGE


def input_qos(cfg: NodeConfig) -> QosProfile:
    """Keep-last `queue_depth`, volatile, best effort (REP-2003) unless `image_reliability` says reliable."""
    return QosProfile(reliable=cfg.image_reliability == "reliable", depth=cfg.queue_depth)


def input_types(cfg: NodeConfig) -> dict[str, str]:
    """Input topic -> message type."""
    topics = {
        cfg.image_topic: COMPRESSED_IMAGE if cfg.compressed_input else IMAGE,
        cfg.camera_info_topic: CAMERA_INFO,
    }
    if cfg.detections_topic:
        topics[cfg.detections_topic] = DETECTION_2D_ARRAY
    return topics


class NodeInputs:
    """`activate()` subscribes (once) and lets frames through; `deactivate()` holds them back."""

    def __init__(self, cfg: NodeConfig, core: NodeCore, transport: Transport) -> None:
        self.cfg, self.core, self.transport = cfg, core, transport
        self.pairer = LivePairer(cfg.slop_s, bool(cfg.detections_topic), self._on_pair)
        core.unpaired = lambda: dict(self.pairer.unpaired)
        self.active = False
        self._subscribed = False

    def _on_pair(self, pair: Paired) -> None:
        if self.active:
            self.core.submit(
                FrameInput(pair.stamp_ns, pair.received_ns, pair.image, pair.camera_info, pair.detections)
            )

    def _gated(self, add: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        def deliver(msg: Any, received_ns: int) -> None:
            if self.active:
                add(msg, received_ns)

        return deliver

    def activate(self) -> None:
        self.active = True
        if self._subscribed:
            return
        cfg, qos = self.cfg, input_qos(self.cfg)
        adders = {
            cfg.image_topic: self.pairer.add_image,
            cfg.camera_info_topic: self.pairer.add_camera_info,
            cfg.detections_topic: self.pairer.add_detections,
        }
        for topic, msgtype in input_types(cfg).items():
            self.transport.subscribe(topic, msgtype, self._gated(adders[topic]), qos)
        self._subscribed = True

    def deactivate(self) -> None:
        self.active = False
