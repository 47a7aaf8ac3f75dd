"""Input QoS from the parameters, on the DDS node (the rclpy node's is checked over ROS 2 in
test_node_rclpy_live.py): a reliable input subscription hears reliable cameras only."""

from __future__ import annotations

import os
import time

import numpy as np

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag_input import camera_info_message, image_message
from fasthmr_ros.ros.dds_node import DdsNode
from fasthmr_ros.ros.node_inputs import input_qos
from fasthmr_ros.ros.transport.base import QosProfile
from fasthmr_ros.ros.transport.dds import DdsTransport
from fasthmr_ros.ros.typestore import CAMERA_INFO, IMAGE

W, H = 64, 48
CAMERA = CameraIntrinsics(60.0, 60.0, 32.0, 24.0, W, H)


def test_input_qos_follows_the_parameters() -> None:
    assert input_qos(NodeConfig()) == QosProfile(reliable=False, depth=5, transient_local=False)
    assert input_qos(NodeConfig(image_reliability="reliable", queue_depth=2)) == QosProfile(
        reliable=True, depth=2
    )


def _frames_in(node: DdsNode, side: DdsTransport, reliable: bool, seconds: float = 2.0) -> int:
    """Frames the node took in while a camera of that reliability sent at 20 Hz for `seconds`."""
    qos = QosProfile(reliable=reliable, depth=5)
    images, infos = (
        side.advertise("/camera/image_raw", IMAGE, qos),
        side.advertise("/camera/camera_info", CAMERA_INFO, qos),
    )
    before = node.core.stats().frames_in
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stamp = time.time_ns()
        infos.publish(camera_info_message(CAMERA, stamp, "cam"))
        images.publish(image_message(np.zeros((H, W, 3), np.uint8), stamp, "cam"))
        time.sleep(0.05)
    return node.core.stats().frames_in - before


def test_reliable_inputs_hear_reliable_cameras_only() -> None:
    domain = 1 + (os.getpid() * 11 + time.monotonic_ns() // 1000) % 200
    cfg = NodeConfig(device="cpu", cpu_threads=1, backend="cpu", precision="fp32", marker_rate_hz=0.0)
    cfg.image_reliability = "reliable"
    with DdsNode(cfg, domain) as node, DdsTransport(domain) as side:
        node.activate()
        assert _frames_in(node, side, reliable=True, seconds=4.0) > 0  # discovered, and heard
        # The same participant, so already known: a best-effort writer does not match.
        assert _frames_in(node, side, reliable=False) == 0
