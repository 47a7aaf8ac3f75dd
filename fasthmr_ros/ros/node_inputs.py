"""The live node's inputs, whichever transport carries them (rclpy or plain DDS).

Image (or CompressedImage) + CameraInfo (+ Detection2DArray) subscriptions with the configured
QoS, paired by `LivePairer` and handed to `NodeCore` only while the node is active. One path for
both transports: message_filters is not on PyPI, and the pairing rule (nearest stamp within
`slop_s`, newest pair wins) is the same as its ApproximateTimeSynchronizer's for a camera.
Subscriptions are made on the first activation and outlive deactivation (their messages are
ignored until the next activation), as a lifecycle node's inputs usually do.

Several cameras (`cameras`): one pairer per camera, each pair handed over with its camera's
index. With `target_frame`, /tf and /tf_static (with tf2's listener QoS: reliable, the static one
transient local so the latched mounts arrive) feed the core's transform buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.ros.cameras import camera_inputs
from fasthmr_ros.ros.live_pairing import LivePairer, Paired
from fasthmr_ros.ros.node_core import FrameInput, NodeCore
from fasthmr_ros.ros.transport.base import QosProfile, Transport
from fasthmr_ros.ros.typestore import CAMERA_INFO, COMPRESSED_IMAGE, DETECTION_2D_ARRAY, IMAGE, TF_MESSAGE

TF_TOPICS = {"/tf": False, "/tf_static": True}  # topic -> static
TF_TOPIC_QOS = {
    "/tf": QosProfile(reliable=True, depth=100),
    "/tf_static": QosProfile(reliable=True, depth=100, transient_local=True),
}


def input_qos(cfg: NodeConfig) -> QosProfile:
    """Keep-last `queue_depth`, volatile, best effort (REP-2003) unless `image_reliability` says reliable."""
    return QosProfile(reliable=cfg.image_reliability == "reliable", depth=cfg.queue_depth)


def input_types(cfg: NodeConfig) -> dict[str, str]:
    """Input topic -> message type (every camera's, and /tf + /tf_static with a target frame)."""
    topics = {}
    for camera in camera_inputs(cfg):
        topics[camera.image_topic] = COMPRESSED_IMAGE if cfg.compressed_input else IMAGE
        topics[camera.camera_info_topic] = CAMERA_INFO
    if cfg.detections_topic:
        topics[cfg.detections_topic] = DETECTION_2D_ARRAY
    if cfg.target_frame:
        topics.update(dict.fromkeys(TF_TOPICS, TF_MESSAGE))
    return topics


class NodeInputs:
    """`activate()` subscribes (once) and lets frames through; `deactivate()` holds them back."""

    def __init__(self, cfg: NodeConfig, core: NodeCore, transport: Transport) -> None:
        self.cfg, self.core, self.transport = cfg, core, transport
        self.pairers = [
            LivePairer(cfg.slop_s, bool(cfg.detections_topic), self._pair_handler(i))
            for i in range(len(core.cameras))
        ]
        core.unpaired = self._unpaired
        self.active = False
        self._subscribed = False

    def _pair_handler(self, camera: int) -> Callable[[Paired], None]:
        def on_pair(pair: Paired) -> None:
            if self.active:
                self.core.submit(
                    FrameInput(
                        pair.stamp_ns,
                        pair.received_ns,
                        pair.image,
                        pair.camera_info,
                        pair.detections,
                        camera=camera,
                    )
                )

        return on_pair

    def _unpaired(self) -> dict[str, int]:
        """Unpaired images of every camera, by reason."""
        total: dict[str, int] = {}
        for pairer in self.pairers:
            for reason, count in pairer.unpaired.items():
                total[reason] = total.get(reason, 0) + count
        return total

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
        adders: dict[str, Callable[[Any, int], None]] = {cfg.detections_topic: self.pairers[0].add_detections}
        for camera, pairer in zip(self.core.cameras, self.pairers, strict=True):
            adders[camera.image_topic] = pairer.add_image
            adders[camera.camera_info_topic] = pairer.add_camera_info
        for topic, msgtype in input_types(cfg).items():
            if topic in TF_TOPICS:
                self.transport.subscribe(
                    topic, msgtype, self._transforms(TF_TOPICS[topic]), TF_TOPIC_QOS[topic]
                )
            else:
                self.transport.subscribe(topic, msgtype, self._gated(adders[topic]), qos)
        self._subscribed = True

    def _transforms(self, static: bool) -> Callable[[Any, int], None]:
        """Transforms are kept also while inactive: statics arrive once, and only at first."""
        return lambda msg, _: self.core.add_transforms(msg, static)

    def deactivate(self) -> None:
        self.active = False
