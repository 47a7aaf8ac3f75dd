"""TF buffer (chains, interpolation, static edges, errors) and re-expressing results in another frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from fasthmr_ros.models.default import resolve_body_model
from fasthmr_ros.pipeline.frame_transform import RigidTransform, transform_frame
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages.builders import header
from fasthmr_ros.ros.messages.typestore import get_typestore
from fasthmr_ros.ros.tf_buffer import TfBuffer, TransformError, express_in

TYPES = get_typestore().types
S = 1_000_000_000


def stamped(parent: str, child: str, stamp_ns: int, xyz: tuple, quat_xyzw: np.ndarray) -> object:
    x, y, z, w = (float(v) for v in quat_xyzw)
    return TYPES["geometry_msgs/msg/TransformStamped"](
        header=header(stamp_ns, parent),
        child_frame_id=child,
        transform=TYPES["geometry_msgs/msg/Transform"](
            translation=TYPES["geometry_msgs/msg/Vector3"](x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])),
            rotation=TYPES["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
        ),
    )


def tf_message(*transforms: object) -> object:
    return TYPES["tf2_msgs/msg/TFMessage"](transforms=list(transforms))


def quat(axis: str, degrees: float) -> np.ndarray:
    return Rotation.from_euler(axis, degrees, degrees=True).as_quat()


@pytest.fixture
def robot() -> TfBuffer:
    """map -> base_link (moving, rotating about z) -> camera_link (static) -> camera_optical (static)."""
    buf = TfBuffer(tolerance_s=0.05)
    buf.add_message(
        tf_message(stamped("base_link", "camera_link", 0, (0.2, 0.0, 1.0), quat("z", 0))), static=True
    )
    optical = Rotation.from_euler("ZYX", [-90, 0, -90], degrees=True).as_quat()
    buf.add_message(tf_message(stamped("/camera_link", "camera_optical", 0, (0, 0, 0), optical)), static=True)
    buf.add_message(tf_message(stamped("map", "base_link", 10 * S, (1.0, 0.0, 0.0), quat("z", 0))))
    buf.add_message(tf_message(stamped("map", "base_link", 11 * S, (3.0, 0.0, 0.0), quat("z", 90))))
    return buf


def test_chain_through_static_edges_puts_an_optical_point_in_base_link(robot: TfBuffer) -> None:
    # A point 2 m in front of the camera (optical z) is 2 m ahead of base_link (x), at camera height.
    t = robot.lookup("base_link", "camera_optical", 10 * S)
    np.testing.assert_allclose(t.apply(np.array([0.0, 0.0, 2.0])), [2.2, 0.0, 1.0], atol=1e-9)
    back = robot.lookup("camera_optical", "base_link", 10 * S)
    np.testing.assert_allclose(back.apply([2.2, 0.0, 1.0]), [0.0, 0.0, 2.0], atol=1e-9)


def test_dynamic_edge_interpolates_translation_and_slerps_rotation(robot: TfBuffer) -> None:
    t = robot.lookup("map", "base_link", 10 * S + S // 2)
    np.testing.assert_allclose(t.translation, [2.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(
        Rotation.from_matrix(t.rotation).as_euler("xyz", degrees=True), [0, 0, 45], atol=1e-6
    )


def test_lookup_between_two_leaves_goes_through_their_common_ancestor(robot: TfBuffer) -> None:
    robot.add_message(
        tf_message(stamped("base_link", "lidar", 0, (0.0, 0.5, 0.0), quat("z", 0))), static=True
    )
    t = robot.lookup("lidar", "camera_optical", 10 * S)
    np.testing.assert_allclose(t.apply([0.0, 0.0, 2.0]), [2.2, -0.5, 1.0], atol=1e-9)


def test_stamps_outside_the_data_fail_beyond_the_tolerance_and_name_the_frames(robot: TfBuffer) -> None:
    t = robot.lookup("map", "base_link", 11 * S + 40_000_000)  # within 50 ms: the newest is held
    np.testing.assert_allclose(t.translation, [3.0, 0.0, 0.0])
    with pytest.raises(TransformError, match=r"map -> base_link.*after the newest") as too_old:
        robot.lookup("map", "camera_optical", 12 * S)
    assert too_old.value.reason == "too_old"
    with pytest.raises(TransformError, match="before the oldest") as early:
        robot.lookup("map", "base_link", 9 * S)
    assert early.value.reason == "not_yet"


def test_unknown_and_unconnected_frames_are_named(robot: TfBuffer) -> None:
    with pytest.raises(TransformError, match="frame odom never seen") as unknown:
        robot.lookup("odom", "camera_optical", 10 * S)
    assert unknown.value.reason == "unknown_frame"
    robot.add_message(tf_message(stamped("world", "table", 0, (0, 0, 0), quat("z", 0))), static=True)
    with pytest.raises(TransformError, match="different trees") as apart:
        robot.lookup("table", "camera_optical", 10 * S)
    assert apart.value.reason == "not_connected"


def test_history_older_than_the_cache_is_forgotten() -> None:
    buf = TfBuffer(cache_s=1.0, tolerance_s=0.0)
    for second in range(5):
        buf.add(stamped("map", "base_link", second * S, (second, 0, 0), quat("z", 0)))
    with pytest.raises(TransformError, match="before the oldest"):
        buf.lookup("map", "base_link", 2 * S)
    assert buf.lookup("map", "base_link", 3 * S + S // 4).translation[0] == pytest.approx(3.25)


def test_malformed_transforms_are_refused_with_the_frames() -> None:
    buf = TfBuffer()
    with pytest.raises(ValueError, match="map -> base_link: rotation is not a quaternion"):
        buf.add(stamped("map", "base_link", 0, (0, 0, 0), np.zeros(4)))
    with pytest.raises(ValueError, match="unusable frames"):
        buf.add(stamped("", "base_link", 0, (0, 0, 0), quat("z", 0)))


def _smpl_person() -> tuple[PersonResult, object, dict]:
    """A person whose fields are exactly what SMPL gives for some pose (stand-in body)."""
    body = resolve_body_model().body
    rng = np.random.default_rng(3)
    go = torch.from_numpy(Rotation.from_rotvec(rng.normal(0, 0.5, 3)).as_matrix()[None, None]).float()
    bp = torch.from_numpy(Rotation.from_rotvec(rng.normal(0, 0.2, (23, 3))).as_matrix()[None]).float()
    betas = torch.from_numpy(rng.normal(0, 1, (1, 10))).float()
    out = body(go, bp, betas)
    transl = np.array([0.1, -0.2, 4.0])
    person = PersonResult(
        track_id=1,
        score=0.9,
        bbox=np.array([0, 0, 10, 10], np.float32),
        global_orient=go[0, 0].numpy(),
        body_pose=bp[0].numpy(),
        betas=betas[0].numpy(),
        transl=transl.astype(np.float32),
        joints3d=out.joints[0].double().numpy() + transl,
        joints2d=np.zeros((out.joints.shape[1], 2), np.float32),
        joint_set=out.joint_set,
        pred_cam=np.zeros(3, np.float32),
        vertices=out.vertices[0].double().numpy() + transl,
    )
    return person, body, {"bp": bp, "betas": betas}


def test_transformed_person_is_the_same_smpl_body_in_the_new_frame() -> None:
    person, body, args = _smpl_person()
    transform = RigidTransform(
        Rotation.from_euler("xyz", [30, -50, 120], degrees=True).as_matrix(), np.array([1, 2, 3.0])
    )
    camera = CameraIntrinsics(100, 100, 50, 50, 100, 100)
    frame = FrameResult(5, "camera_optical", 100, 100, camera, [person])
    moved = transform_frame(frame, transform, "base_link")
    assert frame.frame_id == "camera_optical" and moved.frame_id == "base_link"
    p = moved.persons[0]
    np.testing.assert_allclose(p.vertices, transform.apply(person.vertices), atol=1e-5)
    np.testing.assert_allclose(p.joints3d, transform.apply(person.joints3d), atol=1e-5)
    # What a consumer does with the message fields: SMPL(new global_orient) + new transl.
    again = body(torch.from_numpy(p.global_orient[None, None]).float(), args["bp"], args["betas"])
    np.testing.assert_allclose(again.vertices[0].numpy() + p.transl, p.vertices, atol=1e-4)
    np.testing.assert_array_equal(p.joints2d, person.joints2d)


def test_express_in_falls_back_to_the_camera_frame_with_the_reason(robot: TfBuffer) -> None:
    camera = CameraIntrinsics(100, 100, 50, 50, 100, 100)
    person, _, _ = _smpl_person()
    frame = FrameResult(10 * S, "camera_optical", 100, 100, camera, [person])
    moved, error = express_in(frame, robot, "base_link")
    assert error is None and moved.frame_id == "base_link"
    np.testing.assert_allclose(
        moved.persons[0].joints3d[0],
        robot.lookup("base_link", "camera_optical", 10 * S).apply(person.joints3d[0]),
        atol=1e-5,
    )
    late = FrameResult(20 * S, "camera_optical", 100, 100, camera, [person])
    kept, error = express_in(late, robot, "map")
    assert kept is late and kept.frame_id == "camera_optical"
    assert error is not None and error.reason == "too_old" and "map -> base_link" in str(error)
    same, error = express_in(frame, robot, "")
    assert same is frame and error is None
