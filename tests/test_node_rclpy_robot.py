"""The rclpy node with several cameras, in its own process against a real rclpy peer (Fast DDS);
and what target_frame / hri need from the ROS install."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from rclpy_peer import NodeProcess, Peer, own_domain, qos, wait_for  # first: needs ROS 2

# isort: split
from diagnostic_msgs.msg import DiagnosticArray
from fasthmr_ros.msg import HumanMeshArray
from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image

from fasthmr_ros.ros.hri import OUTPUT_TYPES as HRI_TYPES
from fasthmr_ros.ros.node import FastHMRNode, has_message
from fasthmr_ros.ros.typestore import TF_MESSAGE

W, H = 96, 72


class NamedCamera:
    """A camera driver under a namespace: rgb8 Image + CameraInfo with equal stamps."""

    def __init__(self, peer: Peer, namespace: str, frame_id: str) -> None:
        self.images = peer.node.create_publisher(Image, f"{namespace}/image_raw", qos(True, depth=5))
        self.infos = peer.node.create_publisher(CameraInfo, f"{namespace}/camera_info", qos(True, depth=5))
        self.frame_id = frame_id
        self.sent: list[int] = []

    def send(self) -> None:
        stamp_ns = time.time_ns()
        image = Image(height=H, width=W, encoding="rgb8", step=W * 3)
        image.data = np.full(W * H * 3, len(self.sent) % 250, np.uint8).tobytes()
        info = CameraInfo(height=H, width=W, distortion_model="plumb_bob")
        info.k = [100.0, 0.0, W / 2, 0.0, 100.0, H / 2, 0.0, 0.0, 1.0]
        for header in (image.header, info.header):
            header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 10**9)
            header.frame_id = self.frame_id
        self.infos.publish(info)
        self.images.publish(image)
        self.sent.append(stamp_ns)


def test_two_cameras_answered_on_their_own_topics_with_their_headers() -> None:
    domain = own_domain()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        peer = Peer(domain)
    proc = NodeProcess(domain, "cameras=/front,/left", "mesh_markers=false", "diagnostics_rate_hz=5.0")
    try:
        assert wait_for(lambda: proc.proc.poll() is not None or peer.state() == "active", 60), "not active"
        assert proc.proc.poll() is None, proc.stop()[1]
        front_out = peer.subscribe(HumanMeshArray, "/fasthmr/humans/front", qos())
        left_out = peer.subscribe(HumanMeshArray, "/fasthmr/humans/left", qos())
        diagnostics = peer.subscribe(DiagnosticArray, "/diagnostics", qos())
        front, left = NamedCamera(peer, "/front", "front_optical"), NamedCamera(peer, "/left", "left_optical")

        deadline = time.monotonic() + 40  # discovery and matching take a moment: resend
        while not (front_out.msgs() and left_out.msgs()) and time.monotonic() < deadline:
            front.send()
            left.send()
            time.sleep(0.2)
        assert front_out.msgs() and left_out.msgs()
        assert wait_for(lambda: any(_per_camera(d) for d in diagnostics.msgs()), 10)
    finally:
        code, out = proc.stop(signal.SIGTERM)
        peer.close()
    assert code == 0, out
    assert {m.header.frame_id for m in front_out.msgs()} == {"front_optical"}
    assert {m.header.frame_id for m in left_out.msgs()} == {"left_optical"}
    stamp = left_out.msgs()[-1].header.stamp
    assert stamp.sec * 10**9 + stamp.nanosec in left.sent
    expected = {f"camera {name}: in / processed / dropped" for name in ("front", "left")}
    assert set(_per_camera(diagnostics.msgs()[-1])) == expected


def _per_camera(diagnostics: DiagnosticArray) -> dict[str, str]:
    status = [s for s in diagnostics.status if s.name.startswith("fasthmr")]
    return {kv.key: kv.value for s in status for kv in s.values if kv.key.startswith("camera ")}


@pytest.fixture
def node():  # type: ignore[no-untyped-def]
    import rclpy

    rclpy.init()
    made = FastHMRNode(
        overrides={"device": "cpu", "cpu_threads": 1, "target_frame": "base_link", "hri": True}
    )
    yield made
    made.destroy_node()
    rclpy.try_shutdown()


def test_target_frame_and_hri_need_their_message_packages(node: FastHMRNode) -> None:
    """tf2_msgs and hri_msgs are in every ROS 2 install but not among the PyPI wheels: where they
    are missing, configure fails (naming the package) instead of running without them."""
    installed = has_message(TF_MESSAGE) and all(has_message(t) for t in HRI_TYPES)
    expected = TransitionCallbackReturn.SUCCESS if installed else TransitionCallbackReturn.FAILURE
    assert node.trigger_configure() == expected
    assert (node.core is not None) == installed
