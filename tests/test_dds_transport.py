"""Real Cyclone DDS on this host: two participants in one process, ROS 2 wire format."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.qos import Policy

from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages.builders import frame_to_msg, header, mesh_msg
from fasthmr_ros.ros.messages.markers import frame_markers
from fasthmr_ros.ros.messages.typestore import (
    CAMERA_INFO,
    HUMAN_MESH_ARRAY,
    IMAGE,
    MARKER_ARRAY,
    MESH,
    get_typestore,
)
from fasthmr_ros.ros.transport.base import DEFAULT, LATCHED, SENSOR_DATA
from fasthmr_ros.ros.transport.dds import DdsTransport
from fasthmr_ros.ros.transport.dds_types import dds_type_name, pad_to_4, strip_padding

TS = get_typestore()


@pytest.fixture
def domain() -> int:
    """A domain id of its own, so parallel test runs on this host never see each other."""
    return 10 + (os.getpid() * 7 + time.monotonic_ns()) % 200


class Inbox:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self._event = threading.Event()

    def __call__(self, item: Any, received_ns: int) -> None:
        self.items.append(item)
        self._event.set()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.items) < count and time.monotonic() < deadline:
            self._event.wait(0.05)
            self._event.clear()
        return self.items


def publish_until(received: Inbox, send: Callable[[], None], timeout: float = 5.0) -> list[Any]:
    """Resend until the first sample arrives (discovery takes a moment; best effort may drop)."""
    deadline = time.monotonic() + timeout
    while not received.items and time.monotonic() < deadline:
        send()
        received.wait(1, timeout=0.2)
    return received.items


def image_msg(height: int = 3, width: int = 5) -> Any:
    data = np.arange(height * width * 3, dtype=np.uint8)
    return TS.types[IMAGE](
        header=header(1_700_000_000_123_456_789, "camera_optical", "jazzy"),
        height=height,
        width=width,
        encoding="rgb8",
        is_bigendian=0,
        step=width * 3,
        data=data,
    )


def test_padding_round_trip() -> None:
    for body in (b"", b"a", b"ab", b"abc", b"abcd"):
        cdr = b"\x00\x01\x00\x00" + body
        padded = pad_to_4(cdr)
        assert len(padded) % 4 == 0
        assert strip_padding(padded) == cdr


def test_ros_type_names() -> None:
    assert dds_type_name("sensor_msgs/msg/Image") == "sensor_msgs::msg::dds_::Image_"
    assert dds_type_name("fasthmr_ros/msg/HumanMeshArray") == "fasthmr_ros::msg::dds_::HumanMeshArray_"


def test_image_round_trip_is_byte_exact(domain: int) -> None:
    """Reliable publisher, sensor-data (best effort) subscriber: what rclpy camera nodes do."""
    received = Inbox()
    with DdsTransport(domain) as pub_side, DdsTransport(domain) as sub_side:
        sub_side._reader("/camera/image_raw", IMAGE, SENSOR_DATA, received)  # raw CDR beneath subscribe
        publisher = pub_side.advertise("/camera/image_raw", IMAGE, DEFAULT)
        msg = image_msg(height=7, width=11)  # 231 bytes of pixels: the CDR length is not a multiple of 4
        sent = bytes(TS.serialize_cdr(msg, IMAGE))
        assert len(sent) % 4 != 0
        got = publish_until(received, lambda: publisher.publish(msg))
    assert got, "no sample arrived over DDS"
    assert got[0] == sent
    again = TS.deserialize_cdr(got[0], IMAGE)
    assert again.header.frame_id == "camera_optical"
    np.testing.assert_array_equal(again.data, msg.data)


def _frame() -> FrameResult:
    rng = np.random.default_rng(3)
    person = PersonResult(
        track_id=7,
        score=0.8,
        bbox=np.array([10, 20, 110, 220.0]),
        global_orient=np.eye(3),
        body_pose=np.tile(np.eye(3), (23, 1, 1)),
        betas=rng.normal(size=10),
        transl=np.array([0.1, 0.2, 4.0]),
        joints3d=rng.normal(size=(44, 3)),
        joints2d=rng.uniform(0, 600, size=(44, 2)),
        joint_set="hmr2_44",
        pred_cam=np.array([0.9, 0.01, 0.02]),
    )
    camera = CameraIntrinsics(600.0, 601.0, 320.0, 240.0, 640, 480)
    return FrameResult(1_000_000_007, "cam", 640, 480, camera, [person], {"model": 12.5})


def test_human_mesh_array_arrives_with_our_definitions(domain: int) -> None:
    received = Inbox()
    frame = _frame()
    with DdsTransport(domain) as pub_side, DdsTransport(domain, namespace="robot") as sub_side:
        sub_side.subscribe("/fasthmr/humans", HUMAN_MESH_ARRAY, received, DEFAULT)
        publisher = pub_side.advertise("/fasthmr/humans", HUMAN_MESH_ARRAY, DEFAULT)
        got = publish_until(received, lambda: publisher.publish(frame_to_msg(frame)))
    assert got
    msg = got[0]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (1, 7, "cam")
    human = msg.humans[0]
    assert human.track_id == 7
    np.testing.assert_allclose(human.joints3d.reshape(-1, 3), frame.persons[0].joints3d, rtol=1e-6)
    np.testing.assert_allclose(human.betas, frame.persons[0].betas, rtol=1e-6)
    assert msg.fy == 601.0 and msg.processing_time_ms == pytest.approx(12.5)


def test_latched_mesh_reaches_a_late_subscriber(domain: int) -> None:
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    received = Inbox()
    with DdsTransport(domain) as pub_side:
        publisher = pub_side.advertise("/fasthmr/mesh", MESH, LATCHED)
        publisher.publish(mesh_msg(faces, np.eye(4, 3)))
        time.sleep(0.2)
        with DdsTransport(domain) as late:
            late.subscribe("/fasthmr/mesh", MESH, received, LATCHED)
            got = received.wait(1, timeout=5.0)
    assert got, "transient-local sample was not delivered to the late joiner"
    assert [list(t.vertex_indices) for t in got[0].triangles] == faces.tolist()


def test_endpoints_carry_ros2_type_hash_and_names(domain: int) -> None:
    with DdsTransport(domain) as side:
        side.advertise("/camera/camera_info", CAMERA_INFO, SENSOR_DATA)
        reader = BuiltinDataReader(side._participant, BuiltinTopicDcpsPublication)
        deadline = time.monotonic() + 5
        found = []
        while not found and time.monotonic() < deadline:
            found = [s for s in reader.take(16) if s.topic_name == "rt/camera/camera_info"]
            time.sleep(0.05)
    assert found
    endpoint = found[0]
    assert endpoint.type_name == "sensor_msgs::msg::dds_::CameraInfo_"
    assert endpoint.qos[Policy.Userdata].data == f"typehash={TS.hash_rihs01(CAMERA_INFO)};".encode()
    assert endpoint.qos[Policy.Reliability] == Policy.Reliability.BestEffort


def test_malformed_message_is_counted_and_skipped(domain: int) -> None:
    """Valid DDS framing, invalid content (non-UTF-8 frame_id): dropped and counted; delivery goes on."""
    received = Inbox()
    msg = image_msg()
    good = bytes(TS.serialize_cdr(msg, IMAGE))
    bad = bytearray(good)
    at = bad.index(b"camera_optical")
    bad[at : at + 3] = b"\xff\xfe\xfd"
    with DdsTransport(domain) as pub_side, DdsTransport(domain) as sub_side:
        sub_side.subscribe("/img", IMAGE, received, DEFAULT)
        publisher = pub_side.advertise("/img", IMAGE, DEFAULT)
        publish_until(received, lambda: publisher.publish(msg))
        publisher.publish_cdr(bytes(bad))
        publisher.publish(msg)
        received.wait(2)
        deadline = time.monotonic() + 5
        while not sub_side.malformed and time.monotonic() < deadline:
            time.sleep(0.05)
        malformed = dict(sub_side.malformed)
    assert malformed == {"/img": 1}
    assert len(received.items) >= 2
    assert all(m.header.frame_id == "camera_optical" for m in received.items)


def test_output_qos_and_namespace(domain: int) -> None:
    with DdsTransport(domain, namespace="robot1") as side:
        humans = side.advertise("fasthmr/humans", HUMAN_MESH_ARRAY, DEFAULT)
        side.advertise("/fasthmr/mesh", MESH, LATCHED)
        reader = BuiltinDataReader(side._participant, BuiltinTopicDcpsPublication)
        deadline = time.monotonic() + 5
        seen: dict[str, Any] = {}
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.update({s.topic_name: s for s in reader.take(16)})
            time.sleep(0.05)
    assert humans.topic == "/robot1/fasthmr/humans"
    assert seen["rt/robot1/fasthmr/humans"].type_name == "fasthmr_ros::msg::dds_::HumanMeshArray_"
    assert seen["rt/robot1/fasthmr/humans"].qos[Policy.Durability] == Policy.Durability.Volatile
    assert seen["rt/fasthmr/mesh"].qos[Policy.Durability] == Policy.Durability.TransientLocal
    assert seen["rt/fasthmr/mesh"].qos[Policy.Reliability] != Policy.Reliability.BestEffort


def test_serialised_markers_publish_as_bytes(domain: int) -> None:
    """MarkerArray CDR from `frame_markers` goes out unchanged through `publish`."""
    received = Inbox()
    raw = frame_markers(_frame())
    with DdsTransport(domain) as pub_side, DdsTransport(domain) as sub_side:
        sub_side._reader("/fasthmr/markers", MARKER_ARRAY, DEFAULT, received)  # raw CDR beneath subscribe
        publisher = pub_side.advertise("/fasthmr/markers", MARKER_ARRAY, DEFAULT)
        got = publish_until(received, lambda: publisher.publish(raw))
    assert got and got[0] == raw
    assert len(TS.deserialize_cdr(got[0], MARKER_ARRAY).markers) == 1
