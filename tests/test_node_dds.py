"""The live node end to end over real Cyclone DDS on loopback, with the embedded default model.

A test camera publishes Image + CameraInfo in the ROS 2 wire format; the node runs in this
process (`DdsNode`, no ROS installed); a test subscriber receives what it publishes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.messages.builders import camera_info_message, image_message, time_to_ns
from fasthmr_ros.ros.messages.typestore import (
    CAMERA_INFO,
    DIAGNOSTIC_ARRAY,
    HUMAN_MESH_ARRAY,
    IMAGE,
    MARKER_ARRAY,
    MESH,
    TF_MESSAGE,
    get_typestore,
)
from fasthmr_ros.ros.node.dds_node import DdsNode
from fasthmr_ros.ros.node.params import ParameterError
from fasthmr_ros.ros.node.setup import LoadedPipeline, load_pipeline
from fasthmr_ros.ros.transport.base import DEFAULT, LATCHED
from fasthmr_ros.ros.transport.dds import DdsTransport

W, H = 160, 120
CAMERA = CameraIntrinsics(180.0, 181.0, 80.0, 60.0, W, H)
FRAME = "camera_optical_frame"
TS = get_typestore()


def config(**changes: Any) -> NodeConfig:
    cfg = NodeConfig(device="cpu", cpu_threads=1, mesh_markers=False, marker_rate_hz=20.0)
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


@pytest.fixture(scope="module")
def loaded() -> LoadedPipeline:
    """One model load for the module; each node resets the pipeline on its first older stamp."""
    return load_pipeline(config())


@pytest.fixture
def domain() -> int:
    """A DDS domain of its own, so concurrent test runs on this host never see each other."""
    return 1 + (os.getpid() * 13 + time.monotonic_ns() // 1000) % 200


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[Any, int]] = []
        self.lock = threading.Lock()

    def __call__(self, msg: Any, received_ns: int) -> None:
        with self.lock:
            self.items.append((msg, received_ns))

    def msgs(self) -> list[Any]:
        with self.lock:
            return [m for m, _ in self.items]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def send_until(send: Callable[[], Any], done: Callable[[], bool], period: float = 0.1) -> bool:
    """Resend until `done` (discovery takes a moment; a best-effort reader may lose samples)."""
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if done():
            return True
        send()
        time.sleep(period)
    return done()


class Camera:
    """A test camera: rgb8 images of a moving gradient with matching CameraInfo."""

    def __init__(self, side: DdsTransport) -> None:
        self.images = side.advertise("/camera/image_raw", IMAGE, DEFAULT)
        self.infos = side.advertise("/camera/camera_info", CAMERA_INFO, DEFAULT)
        self.sent: list[int] = []
        self.count = 0

    def send(self, image: Any = None, info: Any = None) -> int:
        """One frame now; a given (bad) image or CameraInfo is restamped to pair with the other."""
        stamp = time.time_ns()
        self.count += 1
        rgb = np.full((H, W, 3), self.count % 250, dtype=np.uint8)
        image = image if image is not None else image_message(rgb, stamp, FRAME)
        info = info if info is not None else camera_info_message(CAMERA, stamp, FRAME)
        image.header.stamp = info.header.stamp = TS.types["builtin_interfaces/msg/Time"](
            sec=stamp // 10**9, nanosec=stamp % 10**9
        )
        self.infos.publish(info)
        self.images.publish(image)
        self.sent.append(stamp)
        return stamp


def start(loaded: LoadedPipeline, domain: int, **changes: Any) -> DdsNode:
    node = DdsNode(config(**changes), domain, loaded=loaded)
    node.activate()
    return node


def warm_up(camera: Camera, node: DdsNode) -> None:
    """Send until the node has published once (discovery takes a moment)."""
    assert send_until(camera.send, lambda: node.core.stats().processed > 0)


def test_30hz_input_gives_outputs_with_the_input_stamps(loaded: LoadedPipeline, domain: int) -> None:
    humans, markers, diagnostics, late_mesh = Inbox(), Inbox(), Inbox(), Inbox()
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        side.subscribe("/fasthmr/humans", HUMAN_MESH_ARRAY, humans, DEFAULT)
        side.subscribe("/fasthmr/markers", MARKER_ARRAY, markers, DEFAULT)
        side.subscribe("/diagnostics", DIAGNOSTIC_ARRAY, diagnostics, DEFAULT)
        camera = Camera(side)
        warm_up(camera, node)
        first = len(camera.sent)
        start_t = time.monotonic()
        while time.monotonic() - start_t < 2.5:  # 30 Hz for 2.5 s
            camera.send()
            time.sleep(1 / 30)
        assert wait_for(lambda: node.core.stats().last_output_ns == node.core.stats().newest_input_ns)
        # The fixed mesh is latched: a subscriber that joins now still gets it.
        side.subscribe("/fasthmr/mesh", MESH, late_mesh, LATCHED)
        assert wait_for(lambda: late_mesh.msgs() and diagnostics.msgs(), timeout=10)
        stats = node.core.stats()
    sent = set(camera.sent)
    outputs = [m for m in humans.msgs() if time_to_ns(m.header.stamp) in set(camera.sent[first:])]
    assert len(outputs) >= 3, f"only {len(outputs)} outputs for {len(camera.sent) - first} inputs"
    assert all(time_to_ns(m.header.stamp) in sent for m in humans.msgs())
    stamps = [time_to_ns(m.header.stamp) for m in humans.msgs()]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    msg = outputs[-1]
    assert msg.header.frame_id == FRAME and (msg.width, msg.height) == (W, H)
    assert (msg.fx, msg.fy, msg.cx, msg.cy) == (CAMERA.fx, CAMERA.fy, CAMERA.cx, CAMERA.cy)
    assert len(msg.humans) == 1 and msg.humans[0].joints3d.size > 0  # fixed region: one person
    # Every frame the node got was either processed or replaced by a newer one; none queued.
    assert stats.processed + stats.dropped == stats.frames_in
    assert not stats.errors and not stats.malformed
    assert stats.latencies_ms and stats.input_rate_hz > 0
    faces = loaded.pipeline.faces
    assert len(late_mesh.msgs()[0].triangles) == len(faces)
    np.testing.assert_array_equal(late_mesh.msgs()[0].triangles[5].vertex_indices, faces[5])
    skeletons = [m for arr in markers.msgs() for m in arr.markers if m.ns == "fasthmr/skeleton"]
    assert skeletons and skeletons[0].header.frame_id == FRAME
    status = diagnostics.msgs()[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    chosen = loaded.backend
    assert values["backend"] == f"{chosen.backend} {chosen.precision} on {chosen.device}"
    assert values["backend reason"] == loaded.backend.reason
    expected = {"input rate (Hz)", "output rate (Hz)", "latency median (ms)", "errors"}
    assert expected | {"frames dropped (newer frame arrived)"} <= set(values)
    assert status.level == 1  # the embedded default warns that it knows stand-in bodies only


def test_burst_faster_than_the_model_drops_stale_frames(loaded: LoadedPipeline, domain: int) -> None:
    humans = Inbox()
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        side.subscribe("/fasthmr/humans", HUMAN_MESH_ARRAY, humans, DEFAULT)
        camera = Camera(side)
        warm_up(camera, node)
        before = node.core.stats()
        for _ in range(80):  # ~1 kHz: far faster than the model
            camera.send()
            time.sleep(0.001)
        assert wait_for(lambda: node.core.stats().last_output_ns == node.core.stats().newest_input_ns)
        stats = node.core.stats()
    received = stats.frames_in - before.frames_in
    processed = stats.processed - before.processed
    assert received > 10
    assert stats.dropped - before.dropped > 0
    assert processed < received / 2, "frames were queued instead of replaced"
    assert stats.processed + stats.dropped == stats.frames_in
    # The newest frame is always the one processed last, so the output ends at the newest input.
    stamps = [time_to_ns(m.header.stamp) for m in humans.msgs()]
    assert wait_for(lambda: time_to_ns(humans.msgs()[-1].header.stamp) == stats.newest_input_ns, 5)
    assert stamps == sorted(stamps)


def _bad_image(encoding: str = "rgb8", truncate: bool = False) -> Any:
    msg = image_message(np.zeros((H, W, 3), np.uint8), 0, FRAME)
    msg.encoding = encoding
    if truncate:
        msg.data = msg.data[: len(msg.data) // 3]
    return msg


def test_malformed_inputs_are_counted_and_skipped(loaded: LoadedPipeline, domain: int) -> None:
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        camera = Camera(side)
        warm_up(camera, node)

        def counted(reason: str, send: Callable[[], Any]) -> None:
            before = node.core.stats().malformed.get(reason, 0)
            assert send_until(send, lambda: node.core.stats().malformed.get(reason, 0) > before, 0.3), reason

        # Valid DDS framing, content rosbags cannot read (frame_id not UTF-8): the transport counts it.
        good = bytes(TS.serialize_cdr(image_message(np.zeros((H, W, 3), np.uint8), 0, FRAME), IMAGE))
        at = good.index(FRAME.encode())
        bad = good[:at] + b"\xff\xfe\xfd" + good[at + 3 :]
        counted("transport:/camera/image_raw", lambda: camera.images.publish_cdr(bad))
        counted("image_decode", lambda: camera.send(image=_bad_image("yuv422_10bit")))
        counted("image_decode", lambda: camera.send(image=_bad_image(truncate=True)))
        zero_k = camera_info_message(CAMERA, 0, FRAME)
        zero_k.k = np.zeros(9)
        counted("camera_info", lambda: camera.send(info=zero_k))
        processed = node.core.stats().processed
        assert send_until(camera.send, lambda: node.core.stats().processed > processed)  # still running
        stats = node.core.stats()
    assert stats.malformed["image_decode"] >= 2
    assert not stats.errors
    assert node.core.diagnostic_values()[2]["malformed"] == str(sum(stats.malformed.values()))


def test_unusable_camera_info_falls_back_to_default_intrinsics_when_allowed(
    loaded: LoadedPipeline, domain: int
) -> None:
    zero_k = camera_info_message(CAMERA, 0, FRAME)
    zero_k.k = np.zeros(9)  # what an uncalibrated driver publishes
    with start(loaded, domain, use_default_intrinsics=True) as node, DdsTransport(domain) as side:
        camera = Camera(side)
        assert send_until(lambda: camera.send(info=zero_k), lambda: node.core.stats().processed > 0)
        stats = node.core.stats()
    assert stats.default_intrinsics >= stats.processed > 0
    assert "camera_info" not in stats.malformed
    values = node.core.diagnostic_values()[2]
    assert int(values["frames with default intrinsics (no usable CameraInfo)"]) >= stats.default_intrinsics


def test_camera_without_camera_info_is_processed_with_default_intrinsics_when_allowed(
    loaded: LoadedPipeline, domain: int
) -> None:
    with start(loaded, domain, use_default_intrinsics=True) as node, DdsTransport(domain) as side:
        images = side.advertise("/camera/image_raw", IMAGE, DEFAULT)  # and no CameraInfo at all

        def send() -> None:
            images.publish(image_message(np.full((H, W, 3), 90, np.uint8), time.time_ns(), FRAME))

        assert send_until(send, lambda: node.core.stats().processed > 0)
        stats = node.core.stats()
    assert stats.default_intrinsics >= stats.processed > 0 and not stats.unpaired


def test_runtime_parameters_apply_to_the_next_frame(loaded: LoadedPipeline, domain: int) -> None:
    tf = Inbox()
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        side.subscribe("/tf", TF_MESSAGE, tf, DEFAULT)
        camera = Camera(side)
        warm_up(camera, node)
        with pytest.raises(ParameterError):
            node.set_parameter("checkpoint", "/other.ckpt")  # read at configure only
        with pytest.raises(ParameterError):
            node.set_parameter("score_threshold", 1.5)  # outside [0, 1]
        node.set_parameter("marker_rate_hz", 0.0)
        node.set_parameter("publish_tf", True)
        # A re-read parameters file (SIGHUP): run-time changes apply, others wait for a restart.
        reread = config(marker_rate_hz=0.0, publish_tf=True, score_threshold=0.5, checkpoint="/other.ckpt")
        assert node.apply_config(reread) == ["score_threshold"]
        assert node.cfg.checkpoint == ""

        def frames(n: int) -> None:
            done = node.core.stats().processed + n
            assert send_until(camera.send, lambda: node.core.stats().processed >= done)

        frames(1)
        markers = node.core.stats().markers_published
        frames(3)
        assert node.core.stats().markers_published == markers  # marker rate 0: none any more
        assert loaded.pipeline.config.score_threshold == 0.5
        assert wait_for(lambda: bool(tf.msgs()), 5)
    transform = tf.msgs()[-1].transforms[0]
    assert transform.header.frame_id == FRAME and transform.child_frame_id.startswith("body_")
    q = transform.transform.rotation
    assert np.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0)


def test_deactivate_stops_processing_and_activate_resumes(loaded: LoadedPipeline, domain: int) -> None:
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        camera = Camera(side)
        warm_up(camera, node)
        node.deactivate()
        assert not node.core.running
        frames_in = node.core.stats().frames_in
        for _ in range(10):
            camera.send()
            time.sleep(0.03)
        assert node.core.stats().frames_in == frames_in  # inputs ignored while inactive
        node.activate()
        processed = node.core.stats().processed
        assert send_until(camera.send, lambda: node.core.stats().processed > processed)


def test_mesh_markers_switch_vertex_output_both_ways(loaded: LoadedPipeline, domain: int) -> None:
    with start(loaded, domain) as node, DdsTransport(domain) as side:
        camera = Camera(side)
        warm_up(camera, node)
        for on in (True, False):
            node.set_parameter("mesh_markers", on)
            # Two frames: one may already be past the point where changes apply (the worker's step).
            done = node.core.stats().processed + 2
            assert send_until(camera.send, lambda done=done: node.core.stats().processed >= done)
            assert loaded.pipeline.config.output_vertices is on
            assert loaded.pipeline.estimator.return_vertices is on


def test_set_parameter_keeps_the_value_as_the_core_does(loaded: LoadedPipeline, domain: int) -> None:
    with start(loaded, domain) as node:
        node.set_parameter("marker_rate_hz", 1)  # an int for a float parameter, as YAML may give
        assert type(node.cfg.marker_rate_hz) is float and node.cfg.marker_rate_hz == 1.0
