"""ROS4HRI messages: built from one frame, serialised and decoded again with the hri_msgs definitions."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.models.joints import JOINT_NAMES
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages.builders import body_transforms
from fasthmr_ros.ros.messages.hri import (
    JOINT_STATE_NAMES,
    TRACKED_TOPIC,
    body_id,
    hri_messages,
    tracked_msg,
)
from fasthmr_ros.ros.messages.typestore import (
    IDS_LIST,
    JOINT_STATE,
    REGION_OF_INTEREST,
    SKELETON_2D,
    get_typestore,
)

TS = get_typestore()
W, H = 200, 100


def person(track_id: int) -> PersonResult:
    rng = np.random.default_rng(track_id)
    joints2d = rng.uniform(0, 1, (44, 2)) * (W, H)
    joints2d[JOINT_NAMES["hmr2_44"].index("left_ear")] = (-5.0, 50.0)  # outside the image
    return PersonResult(
        track_id=track_id,
        score=0.8,
        bbox=np.array([20, 10, 120, 90], np.float32),
        global_orient=np.eye(3, dtype=np.float32),
        body_pose=Rotation.from_rotvec(rng.normal(0, 0.4, (23, 3))).as_matrix().astype(np.float32),
        betas=np.zeros(10, np.float32),
        transl=np.array([0.0, 0.0, 3.0], np.float32),
        joints3d=rng.normal(0, 0.3, (44, 3)).astype(np.float32) + np.array([0, 0, 3], np.float32),
        joints2d=joints2d.astype(np.float32),
        joint_set="hmr2_44",
        pred_cam=np.zeros(3, np.float32),
    )


def roundtrip(msg: object, msgtype: str) -> object:
    return TS.deserialize_cdr(TS.serialize_cdr(msg, msgtype), msgtype)


def test_per_body_topics_decode_with_the_rep155_layout() -> None:
    frame = FrameResult(1_500_000_000, "cam_optical", W, H, CameraIntrinsics(1, 1, 1, 1, W, H), [person(4)])
    out = {
        topic: (msgtype, msg)
        for topic, msgtype, msg in hri_messages(frame, [body_id(4, "front")], "cam_optical")
    }
    assert set(out) == {f"/humans/bodies/front_4/{k}" for k in ("roi", "skeleton2d", "joint_states")}

    roi = roundtrip(out["/humans/bodies/front_4/roi"][1], REGION_OF_INTEREST)
    assert roi.header.frame_id == "cam_optical" and (roi.header.stamp.sec, roi.header.stamp.nanosec) == (
        1,
        5e8,
    )
    np.testing.assert_allclose(
        [roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c], [0.1, 0.1, 0.6, 0.9, 0.8], atol=1e-6
    )

    skeleton = roundtrip(out["/humans/bodies/front_4/skeleton2d"][1], SKELETON_2D)
    assert len(skeleton.skeleton) == 18
    names = JOINT_NAMES["hmr2_44"]
    p = frame.persons[0]
    for code, name in ((0, "nose"), (1, "neck"), (10, "right_ankle"), (14, "left_eye")):
        point = skeleton.skeleton[code]
        np.testing.assert_allclose([point.x, point.y], p.joints2d[names.index(name)] / (W, H), atol=1e-6)
        assert point.c == np.float32(0.8)
    assert skeleton.skeleton[16].c == 0.0  # left ear, outside the image

    joints = roundtrip(out["/humans/bodies/front_4/joint_states"][1], JOINT_STATE)
    assert list(joints.name) == JOINT_STATE_NAMES and len(joints.position) == 69
    rebuilt = Rotation.from_euler("XYZ", np.asarray(joints.position).reshape(23, 3)).as_matrix()
    np.testing.assert_allclose(rebuilt, p.body_pose, atol=1e-5)


def test_tracked_list_and_body_frames() -> None:
    tracked = roundtrip(tracked_msg(7, "base_link", ["1", "2"]), IDS_LIST)
    assert TRACKED_TOPIC == "/humans/bodies/tracked" and list(tracked.ids) == ["1", "2"]
    frame = FrameResult(7, "base_link", W, H, CameraIntrinsics(1, 1, 1, 1, W, H), [person(1)])
    (tf,) = body_transforms(frame, ["body_1"])
    assert tf.header.frame_id == "base_link" and tf.child_frame_id == "body_1"
    pelvis = frame.persons[0].joints3d[JOINT_NAMES["hmr2_44"].index("mid_hip")]
    np.testing.assert_allclose(
        [tf.transform.translation.x, tf.transform.translation.z], pelvis[[0, 2]], atol=1e-6
    )


def test_hri_types_have_ros2_type_hashes() -> None:
    for msgtype in (IDS_LIST, REGION_OF_INTEREST, SKELETON_2D):
        assert TS.hash_rihs01(msgtype).startswith("RIHS01_")
    assert "uint8 NOSE=0" in TS.generate_msgdef(SKELETON_2D, ros_version=2)[0]
