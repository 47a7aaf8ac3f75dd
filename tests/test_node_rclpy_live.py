"""The rclpy node in its own process against a real rclpy peer (camera, RViz-like subscribers,
`ros2 lifecycle` / `ros2 param`-like service calls), on Fast DDS, with the embedded default model.

One node process serves the module (a model load takes seconds); each test leaves it active.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from rclpy_peer import NODE, NodeProcess, Peer, own_domain, qos, wait_for  # first: needs ROS 2

# isort: split
from diagnostic_msgs.msg import DiagnosticArray
from fasthmr_ros.msg import HumanMeshArray
from lifecycle_msgs.msg import Transition
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from shape_msgs.msg import Mesh
from visualization_msgs.msg import MarkerArray

W, H = 96, 72
FRAME = "camera_optical_frame"
NODE_PARAMS = ("mesh_markers=false", "marker_rate_hz=20.0", "diagnostics_rate_hz=5.0")


@pytest.fixture(scope="module")
def domain() -> int:
    return own_domain()


@pytest.fixture(scope="module")
def peer(domain: int) -> Iterator[Peer]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        made = Peer(domain)
    yield made
    made.close()


@pytest.fixture(scope="module")
def node(domain: int, peer: Peer) -> Iterator[NodeProcess]:
    proc = NodeProcess(domain, *NODE_PARAMS)
    try:
        assert wait_for(lambda: proc.proc.poll() is not None or peer.state() == "active", 60), "not active"
        assert proc.proc.poll() is None, proc.stop()[1]
        yield proc
    finally:
        proc.stop(signal.SIGTERM)


class Camera:
    """A camera driver: rgb8 Image + CameraInfo with equal stamps, at the given reliability."""

    def __init__(self, peer: Peer, reliable: bool) -> None:
        self.peer = peer
        self.images = peer.node.create_publisher(Image, "/camera/image_raw", qos(reliable, depth=5))
        self.infos = peer.node.create_publisher(CameraInfo, "/camera/camera_info", qos(reliable, depth=5))
        self.count = 0

    def send(self, image: Image | None = None) -> int:
        """One frame now (a given, possibly bad, image is restamped); returns its stamp (ns)."""
        stamp_ns = time.time_ns()
        self.count += 1
        if image is None:
            image = Image(height=H, width=W, encoding="rgb8", step=W * 3)
            image.data = np.full(W * H * 3, self.count % 250, np.uint8).tobytes()
        info = CameraInfo(height=H, width=W, distortion_model="plumb_bob")
        info.k = [100.0, 0.0, W / 2, 0.0, 100.0, H / 2, 0.0, 0.0, 1.0]
        for header in (image.header, info.header):
            header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 10**9)
            header.frame_id = FRAME
        self.infos.publish(info)
        self.images.publish(image)
        return stamp_ns

    def close(self) -> None:
        self.peer.node.destroy_publisher(self.images)
        self.peer.node.destroy_publisher(self.infos)


def stamp_ns(msg: Any) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def answered(humans: Any, stamps: list[int]) -> set[int]:
    return {stamp_ns(m) for m in humans.msgs()} & set(stamps)


def send_until_answered(camera: Camera, humans: Any, timeout: float = 30.0) -> list[int]:
    """Send a frame every 0.2 s until one is answered (discovery and matching take a moment)."""
    sent: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not answered(humans, sent):
        sent.append(camera.send())
        wait_for(lambda: answered(humans, sent), 0.2)
    return sent


def diagnostics_values(diagnostics: Any) -> dict[str, str]:
    status = [s for arr in diagnostics.msgs() for s in arr.status if s.name.startswith("fasthmr")][-1]
    return {kv.key: kv.value for kv in status.values}


def param_value(value: Any) -> ParameterValue:
    if isinstance(value, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    if isinstance(value, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    if isinstance(value, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)


def set_param(peer: Peer, name: str, value: Any) -> Any:
    request = SetParameters.Request(parameters=[Parameter(name=name, value=param_value(value))])
    return peer.call(SetParameters, f"{NODE}/set_parameters", request).results[0]


def get_param(peer: Peer, name: str) -> ParameterValue:
    return peer.call(GetParameters, f"{NODE}/get_parameters", GetParameters.Request(names=[name])).values[0]


@pytest.mark.parametrize("reliable", [True, False], ids=["reliable", "best_effort"])
def test_camera_frames_answered_with_their_stamps(node: NodeProcess, peer: Peer, reliable: bool) -> None:
    humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
    camera = Camera(peer, reliable)
    try:
        sent = send_until_answered(camera, humans)
        for _ in range(5):
            sent.append(camera.send())
            wait_for(lambda: stamp_ns(humans.msgs()[-1]) == sent[-1], 5)
    finally:
        camera.close()
    got = [stamp_ns(m) for m in humans.msgs()]
    assert got[-1] == sent[-1] and set(got) <= set(sent)
    msg = humans.msgs()[-1]
    assert msg.header.frame_id == FRAME and (msg.width, msg.height) == (W, H)
    assert (msg.fx, msg.cx) == (100.0, W / 2)
    assert len(msg.humans) == 1 and len(msg.humans[0].joints3d) > 0


def test_latched_mesh_markers_and_diagnostics_arrive(node: NodeProcess, peer: Peer) -> None:
    markers = peer.subscribe(MarkerArray, "/fasthmr/markers", qos())
    diagnostics = peer.subscribe(DiagnosticArray, "/diagnostics", qos())
    humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
    camera = Camera(peer, reliable=False)
    try:
        send_until_answered(camera, humans)
        for _ in range(50):  # markers follow processed frames: keep the camera going until they match
            if markers.msgs() and diagnostics.msgs():
                break
            camera.send()
            time.sleep(0.2)
    finally:
        camera.close()
    assert markers.msgs() and diagnostics.msgs()
    # A subscriber joining now still gets the fixed mesh, published once at activation.
    late = peer.subscribe(Mesh, "/fasthmr/mesh", qos(latched=True))
    assert wait_for(late.msgs, 10)
    assert len(late.msgs()[0].triangles) > 1000 and len(late.msgs()[0].vertices) > 1000
    skeletons = [m for arr in markers.msgs() for m in arr.markers if m.ns == "fasthmr/skeleton"]
    assert skeletons and skeletons[0].header.frame_id == FRAME
    values = diagnostics_values(diagnostics)
    assert int(values["frames processed"]) >= 1
    assert values["backend"] == "cpu fp32 on cpu"


def test_bad_images_counted_and_skipped_node_keeps_answering(node: NodeProcess, peer: Peer) -> None:
    diagnostics = peer.subscribe(DiagnosticArray, "/diagnostics", qos())
    humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
    camera = Camera(peer, reliable=True)
    try:
        send_until_answered(camera, humans)
        assert wait_for(diagnostics.msgs, 5)
        before = int(diagnostics_values(diagnostics)["malformed"])
        truncated = Image(height=H, width=W, encoding="rgb8", step=W * 3, data=bytes(W * H))
        oversize = Image(height=H, width=W, encoding="rgb8", step=W * 3, data=bytes(W * H * 3 + 4096))
        bad = [camera.send(truncated)]
        time.sleep(0.3)
        bad.append(camera.send(oversize))
        time.sleep(0.3)
        good = send_until_answered(camera, humans)
        assert wait_for(lambda: int(diagnostics_values(diagnostics)["malformed"]) >= before + 2, 5)
    finally:
        camera.close()
    assert not answered(humans, bad) and answered(humans, good)
    values = diagnostics_values(diagnostics)
    assert int(values["malformed: image_decode"]) >= 2 and values["errors"] == "0"


def test_burst_keeps_only_the_newest_frame(node: NodeProcess, peer: Peer) -> None:
    humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
    camera = Camera(peer, reliable=True)
    try:
        send_until_answered(camera, humans)
        burst = []
        for _ in range(30):  # far faster than the model
            burst.append(camera.send())
            time.sleep(0.002)
        assert wait_for(lambda: stamp_ns(humans.msgs()[-1]) == burst[-1], 20), "newest frame not answered"
    finally:
        camera.close()
    done = answered(humans, burst)
    assert len(done) < len(burst) / 2, f"{len(done)} of {len(burst)} answered: frames were queued"
    stamps = [stamp_ns(m) for m in humans.msgs()]
    assert stamps == sorted(stamps)


def test_parameters_over_the_parameter_services(node: NodeProcess, peer: Peer) -> None:
    applied = set_param(peer, "score_threshold", 0.5)
    assert applied.successful and get_param(peer, "score_threshold").double_value == 0.5
    refused = set_param(peer, "checkpoint", "/elsewhere.ckpt")
    assert not refused.successful and "read at configure" in refused.reason
    assert get_param(peer, "checkpoint").string_value == ""
    out_of_range = set_param(peer, "marker_rate_hz", 500.0)
    assert not out_of_range.successful and "500" in out_of_range.reason
    bad_choice = set_param(peer, "image_reliability", "sometimes")
    assert not bad_choice.successful and "best_effort" in bad_choice.reason
    # Parameters the node does not own are left to their owner (rclpy accepts use_sim_time).
    assert set_param(peer, "use_sim_time", False).successful


def test_lifecycle_over_the_lifecycle_services(node: NodeProcess, peer: Peer) -> None:
    assert peer.state() == "active"
    assert peer.transition(Transition.TRANSITION_DEACTIVATE) and peer.state() == "inactive"
    assert peer.transition(Transition.TRANSITION_CLEANUP) and peer.state() == "unconfigured"
    # Unconfigured, load-time parameters may change: ask for reliable inputs.
    assert set_param(peer, "image_reliability", "reliable").successful
    assert peer.transition(Transition.TRANSITION_CONFIGURE) and peer.state() == "inactive"
    assert peer.transition(Transition.TRANSITION_ACTIVATE) and peer.state() == "active"
    subs = wait_for(lambda: peer.node.get_subscriptions_info_by_topic("/camera/image_raw"), 10)
    assert [s.qos_profile.reliability for s in subs] == [ReliabilityPolicy.RELIABLE]
    humans = peer.subscribe(HumanMeshArray, "/fasthmr/humans", qos())
    camera = Camera(peer, reliable=True)
    try:
        assert answered(humans, send_until_answered(camera, humans))
    finally:
        camera.close()
    # Back to the default for the other tests.
    assert peer.transition(Transition.TRANSITION_DEACTIVATE)
    assert peer.transition(Transition.TRANSITION_CLEANUP)
    assert set_param(peer, "image_reliability", "best_effort").successful
    assert peer.transition(Transition.TRANSITION_CONFIGURE)
    assert peer.transition(Transition.TRANSITION_ACTIVATE)


def test_shutdown_transition_sigterm_and_sigint_end_cleanly(
    domain: int, peer: Peer, node: NodeProcess
) -> None:
    assert peer.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN) and peer.state() == "finalized"
    code, out = node.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in out, out
    # The `ros2 run` entry point waits unconfigured for the launch file or `ros2 lifecycle set`.
    other = NodeProcess(domain, *NODE_PARAMS, ros2_run=True)
    try:
        assert wait_for(lambda: other.proc.poll() is not None or peer.state() == "unconfigured", 60)
        assert peer.transition(Transition.TRANSITION_CONFIGURE)
        assert peer.transition(Transition.TRANSITION_ACTIVATE) and peer.state() == "active"
    finally:
        code, out = other.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in out, out
