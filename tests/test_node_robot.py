"""The DDS node on a robot: several cameras, results in the robot's frame from /tf_static, ROS4HRI.

Real Cyclone DDS on loopback; a test robot publishes cameras and transforms in the ROS 2 wire
format and decodes what the node publishes with the message definitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.ros.bag_input import camera_info_message, image_message
from fasthmr_ros.ros.convert import time_to_ns
from fasthmr_ros.ros.dds_node import DdsNode
from fasthmr_ros.ros.node_core import DIAGNOSTIC_ARRAY
from fasthmr_ros.ros.node_setup import LoadedPipeline
from fasthmr_ros.ros.transport.base import DEFAULT, LATCHED
from fasthmr_ros.ros.transport.dds import DdsTransport
from fasthmr_ros.ros.typestore import (
    CAMERA_INFO,
    HUMAN_MESH_ARRAY,
    IDS_LIST,
    IMAGE,
    JOINT_STATE,
    REGION_OF_INTEREST,
    SKELETON_2D,
    TF_MESSAGE,
)
from tests.test_node_dds import CAMERA, FRAME, TS, Inbox, domain, loaded, send_until, start, wait_for
from tests.test_tf_buffer import stamped

__all__ = ["domain", "loaded"]  # fixtures shared with the single-camera node tests

# base_link -> camera optical frame: camera 1.5 m up, 0.2 m forward, looking along base_link's x.
OPTICAL = Rotation.from_euler("ZYX", [-90, 0, -90], degrees=True)
CAMERA_IN_BASE = (0.2, 0.0, 1.5)


class TopicCamera:
    """A camera driver publishing Image + CameraInfo under a namespace."""

    def __init__(self, side: DdsTransport, namespace: str, frame_id: str) -> None:
        self.images = side.advertise(f"{namespace}/image_raw", IMAGE, DEFAULT)
        self.infos = side.advertise(f"{namespace}/camera_info", CAMERA_INFO, DEFAULT)
        self.frame_id = frame_id
        self.sent: list[int] = []

    def send(self) -> int:
        stamp = time.time_ns()
        rgb = np.full((CAMERA.height, CAMERA.width, 3), len(self.sent) % 250, dtype=np.uint8)
        self.infos.publish(camera_info_message(CAMERA, stamp, self.frame_id))
        self.images.publish(image_message(rgb, stamp, self.frame_id))
        self.sent.append(stamp)
        return stamp


class ForwardSizes:
    """Wraps the estimator's real network call (whichever backend runs it) and records batch sizes."""

    def __init__(self, network: Callable[..., Any]) -> None:
        self.network, self.sizes = network, []

    def __call__(self, crops: Any, *args: Any, **kwargs: Any) -> Any:
        self.sizes.append(crops.shape[0])
        return self.network(crops, *args, **kwargs)


def settled(node: DdsNode) -> bool:
    """Every frame each camera delivered is processed or replaced by a newer one (nothing pending)."""
    return all(c["in"] == c["processed"] + c["dropped"] for c in node.core.stats().per_camera.values())


def publish_robot(side: DdsTransport) -> None:
    """/tf_static as a robot_state_publisher would: latched, reliable."""
    static = side.advertise("/tf_static", TF_MESSAGE, LATCHED)
    mount = stamped("base_link", FRAME, 0, CAMERA_IN_BASE, OPTICAL.as_quat())
    static.publish(TS.types[TF_MESSAGE](transforms=[mount]))


def test_outputs_in_base_link_and_rep155_topics(loaded: LoadedPipeline, domain: int) -> None:
    humans, tf, tracked, roi, skeleton, joints = (Inbox() for _ in range(6))
    with DdsTransport(domain) as side:
        publish_robot(side)  # before the node exists: the latched statics must still reach it
        with start(loaded, domain, target_frame="base_link", hri=True) as node:
            side.subscribe("/fasthmr/humans", HUMAN_MESH_ARRAY, humans, DEFAULT)
            side.subscribe("/tf", TF_MESSAGE, tf, DEFAULT)
            side.subscribe("/humans/bodies/tracked", IDS_LIST, tracked, DEFAULT)
            side.subscribe("/humans/bodies/b1/roi", REGION_OF_INTEREST, roi, DEFAULT)
            side.subscribe("/humans/bodies/b1/skeleton2d", SKELETON_2D, skeleton, DEFAULT)
            side.subscribe("/humans/bodies/b1/joint_states", JOINT_STATE, joints, DEFAULT)
            camera = TopicCamera(side, "/camera", FRAME)
            done = (humans, tracked, roi, skeleton, joints)
            assert send_until(camera.send, lambda: all(box.msgs() for box in done) and tf.msgs())
            stats = node.core.stats()
    msg = humans.msgs()[-1]
    assert msg.header.frame_id == "base_link" and time_to_ns(msg.header.stamp) in camera.sent
    assert stats.camera_frame == {}
    # Undo the mount and project: the 3D joints in base_link land on the message's own 2D joints.
    human = msg.humans[0]
    in_base = np.asarray(human.joints3d, np.float64).reshape(-1, 3)
    in_camera = OPTICAL.inv().apply(in_base - CAMERA_IN_BASE)
    projected = in_camera[:, :2] / in_camera[:, 2:] * (CAMERA.fx, CAMERA.fy) + (CAMERA.cx, CAMERA.cy)
    np.testing.assert_allclose(projected, np.asarray(human.joints2d).reshape(-1, 2), atol=0.05)
    bodies = [t for m in tf.msgs() for t in m.transforms if t.child_frame_id == "body_b1"]
    assert bodies and bodies[-1].header.frame_id == "base_link"
    ids = tracked.msgs()[-1]
    assert list(ids.ids) == ["b1"] and ids.header.frame_id == FRAME
    box = roi.msgs()[-1]
    assert box.header.frame_id == FRAME and 0.0 <= box.xmin < box.xmax <= 1.0
    assert len(skeleton.msgs()[-1].skeleton) == 18 and len(joints.msgs()[-1].position) == 69


def test_missing_transform_publishes_in_the_camera_frame_and_says_why(
    loaded: LoadedPipeline, domain: int
) -> None:
    humans, diagnostics = Inbox(), Inbox()
    with DdsTransport(domain) as side:
        publish_robot(side)
        with start(loaded, domain, target_frame="map", diagnostics_rate_hz=5.0) as node:
            side.subscribe("/fasthmr/humans", HUMAN_MESH_ARRAY, humans, DEFAULT)
            side.subscribe("/diagnostics", DIAGNOSTIC_ARRAY, diagnostics, DEFAULT)
            camera = TopicCamera(side, "/camera", FRAME)
            assert send_until(camera.send, lambda: humans.msgs() and node.core.stats().camera_frame)
            stats = node.core.stats()
            assert wait_for(
                lambda: any("camera frame: unknown_frame" in _values(d) for d in diagnostics.msgs())
            )
    assert {m.header.frame_id for m in humans.msgs()} == {FRAME}
    assert stats.camera_frame.get("unknown_frame", 0) >= 1 and "map" in stats.tf_error
    values = _values(diagnostics.msgs()[-1])
    assert int(values["frames left in the camera frame (no transform to map)"]) >= 1
    assert "frame map never seen" in values["last transform error"]


def _values(diagnostics: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in diagnostics.status[0].values}


def test_two_cameras_share_forwards_and_neither_starves(loaded: LoadedPipeline, domain: int) -> None:
    front_out, left_out, tracked = Inbox(), Inbox(), Inbox()
    estimator = loaded.pipeline.estimator
    spy = ForwardSizes(estimator.network)
    estimator.network = spy  # type: ignore[method-assign]
    try:
        with start(loaded, domain, cameras="/front, /left", hri=True) as node, DdsTransport(domain) as side:
            side.subscribe("/fasthmr/humans/front", HUMAN_MESH_ARRAY, front_out, DEFAULT)
            side.subscribe("/humans/bodies/tracked", IDS_LIST, tracked, DEFAULT)
            side.subscribe("/fasthmr/humans/left", HUMAN_MESH_ARRAY, left_out, DEFAULT)
            front = TopicCamera(side, "/front", "front_optical")
            left = TopicCamera(side, "/left", "left_optical")
            assert send_until(
                lambda: (front.send(), left.send()), lambda: front_out.msgs() and left_out.msgs()
            )
            before = node.core.stats().per_camera
            # Overload: the front camera floods, the left one sends at 10 Hz.
            left_sent = len(left.sent)
            end = time.monotonic() + 2.0
            next_left = time.monotonic()
            while time.monotonic() < end:
                front.send()
                if time.monotonic() >= next_left:
                    left.send()
                    next_left += 0.1
                time.sleep(0.002)
            assert wait_for(lambda: node.core.stats().per_camera["left"]["in"] >= before["left"]["in"] + 15)
            assert wait_for(lambda: settled(node))
            after = node.core.stats().per_camera
            values = node.core.diagnostic_values()[2]
    finally:
        del estimator.network
    assert max(spy.sizes) == 2, "both cameras' crops were never in one forward pass"
    assert {m.header.frame_id for m in front_out.msgs()} == {"front_optical"}
    assert {m.header.frame_id for m in left_out.msgs()} == {"left_optical"}
    assert {time_to_ns(m.header.stamp) for m in left_out.msgs()} <= set(left.sent)
    left_in = after["left"]["in"] - before["left"]["in"]
    left_done = after["left"]["processed"] - before["left"]["processed"]
    front_in = after["front"]["in"] - before["front"]["in"]
    assert front_in > 3 * left_in and after["front"]["dropped"] > before["front"]["dropped"]
    assert left_done >= left_in - 2, f"the slow camera starved: {left_done} of {left_in} processed"
    assert len(left.sent) - left_sent >= 15
    assert values["camera left: in / processed / dropped"].startswith(str(after["left"]["in"]))
    # ROS4HRI: one list of every camera's bodies, ids carrying the camera's name.
    assert ["front_1", "left_1"] in [list(m.ids) for m in tracked.msgs()]
