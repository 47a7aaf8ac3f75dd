"""The rclpy node in its own process against a real rclpy peer (Fast DDS): several cameras,
results in base_link from /tf_static, ROS4HRI topics."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import numpy as np
import pytest
from rclpy_peer import NodeProcess, Peer, own_domain, qos, wait_for  # first: needs ROS 2

# isort: split
from diagnostic_msgs.msg import DiagnosticArray
from fasthmr_ros.msg import HumanMeshArray
from sensor_msgs.msg import CameraInfo, Image

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


def local_peer(domain: int) -> Peer:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        return Peer(domain)


def start_node(domain: int, peer: Peer, *params: str) -> NodeProcess:
    """`fasthmr node --transport rclpy` with `params`, once the peer sees it active."""
    proc = NodeProcess(domain, "mesh_markers=false", *params)
    assert wait_for(lambda: proc.proc.poll() is not None or peer.state() == "active", 60), "not active"
    assert proc.proc.poll() is None, proc.stop()[1]
    return proc


def send_until(cameras: list[NamedCamera], done: Callable[[], bool]) -> None:
    """Every camera sends a frame each 0.2 s until `done` (discovery and matching take a moment)."""
    deadline = time.monotonic() + 40
    while not done() and time.monotonic() < deadline:
        for camera in cameras:
            camera.send()
        time.sleep(0.2)
    assert done()


def test_two_cameras_answered_on_their_own_topics_with_their_headers() -> None:
    domain = own_domain()
    peer = local_peer(domain)
    proc = start_node(domain, peer, "cameras=/front,/left", "diagnostics_rate_hz=5.0")
    try:
        front_out = peer.subscribe(HumanMeshArray, "/fasthmr/humans/front", qos())
        left_out = peer.subscribe(HumanMeshArray, "/fasthmr/humans/left", qos())
        diagnostics = peer.subscribe(DiagnosticArray, "/diagnostics", qos())
        front, left = NamedCamera(peer, "/front", "front_optical"), NamedCamera(peer, "/left", "left_optical")

        send_until([front, left], lambda: bool(front_out.msgs() and left_out.msgs()))
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


def test_base_link_from_tf_static_and_rep155_topics_over_rclpy() -> None:
    """target_frame from a latched /tf_static and the ROS4HRI topics, between real rclpy processes
    (tf2_msgs and hri_msgs as `scripts/setup.sh --ros` builds them where the wheels lack them)."""
    from geometry_msgs.msg import TransformStamped
    from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D, Skeleton2D
    from tf2_msgs.msg import TFMessage

    domain = own_domain()
    peer = local_peer(domain)
    mount = TransformStamped(child_frame_id="cam_optical")
    mount.header.frame_id = "base_link"
    mount.transform.translation.z = 1.5
    mount.transform.rotation.x, mount.transform.rotation.y = -0.5, 0.5  # optical axes: z forward -> x
    mount.transform.rotation.z, mount.transform.rotation.w = -0.5, 0.5
    static = peer.node.create_publisher(TFMessage, "/tf_static", qos(True, latched=True, depth=1))
    static.publish(TFMessage(transforms=[mount]))
    proc = start_node(domain, peer, "target_frame=base_link", "hri=true")
    try:
        humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
        tracked = peer.subscribe(IdsList, "/humans/bodies/tracked", qos())
        roi = peer.subscribe(NormalizedRegionOfInterest2D, "/humans/bodies/b1/roi", qos())
        skeleton = peer.subscribe(Skeleton2D, "/humans/bodies/b1/skeleton2d", qos())
        camera = NamedCamera(peer, "/camera", "cam_optical")
        send_until([camera], lambda: bool(humans.msgs() and roi.msgs() and skeleton.msgs()))
    finally:
        code, out = proc.stop(signal.SIGTERM)
        peer.close()
    assert code == 0, out
    msg = humans.msgs()[-1]
    assert msg.header.frame_id == "base_link"
    pelvis = msg.humans[0].pelvis
    # In front of the camera, 1.5 m up the mount: x (forward) > 0 and z = 1.5 - optical y.
    assert pelvis.x > 0.0
    assert list(tracked.msgs()[-1].ids) == ["b1"]
    box = roi.msgs()[-1]
    assert box.header.frame_id == "cam_optical" and 0.0 <= box.xmin < box.xmax <= 1.0
    assert len(skeleton.msgs()[-1].skeleton) == 18
