"""Motion-file and feature-sequence readers/writers, resampling, synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fasthmr_ros.decoders import data
from fasthmr_ros.errors import InputError


def _amass_file(path, count=121, fps=120.0, fps_key="mocap_framerate", seed=0):
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.3, size=(count, 156))
    np.savez(
        path,
        poses=poses,
        trans=rng.normal(size=(count, 3)),
        betas=rng.normal(size=16),
        gender=np.array("female"),
        **{fps_key: np.array(fps)},
    )
    return poses


def test_read_amass_maps_body_joints_and_leaves_hands_identity(tmp_path):
    poses = _amass_file(tmp_path / "a_poses.npz", count=10, fps=30.0)
    clip = data.read_amass(tmp_path / "a_poses.npz", target_fps=30.0)
    assert len(clip) == 10 and clip.fps == 30.0 and clip.gender == "female"
    expected_root = Rotation.from_rotvec(poses[:, :3]).as_matrix()
    np.testing.assert_allclose(clip.global_orient, expected_root, atol=1e-12)
    knee = Rotation.from_rotvec(poses[:, 3 * 4 : 3 * 5]).as_matrix()  # SMPL joint 4 = left knee
    np.testing.assert_allclose(clip.body_pose[:, 3], knee, atol=1e-12)
    np.testing.assert_allclose(clip.body_pose[:, 21:], np.broadcast_to(np.eye(3), (10, 2, 3, 3)))


def test_read_amass_resamples_to_target_fps(tmp_path):
    _amass_file(tmp_path / "b.npz", count=121, fps=120.0, fps_key="mocap_frame_rate")
    full = data.read_amass(tmp_path / "b.npz", target_fps=None)
    low = data.read_amass(tmp_path / "b.npz", target_fps=30.0)
    assert len(full) == 121 and len(low) == 31  # 1 s at 120 Hz -> 31 frames at 30 Hz
    # 120/30 = 4: every 4th source frame is an exact sample.
    np.testing.assert_allclose(low.body_pose, full.body_pose[::4], atol=1e-9)
    np.testing.assert_allclose(low.trans, full.trans[::4], atol=1e-9)


def test_resample_rotations_interpolates_between_frames():
    rot = Rotation.from_rotvec([[0, 0, 0], [0, 0, 1.0]]).as_matrix()[:, None]  # (2, 1, 3, 3)
    out = data.resample_rotations(rot, src_fps=1.0, dst_fps=2.0)
    assert out.shape == (3, 1, 3, 3)
    np.testing.assert_allclose(Rotation.from_matrix(out[1, 0]).as_rotvec(), [0, 0, 0.5], atol=1e-9)


def test_amass_round_trip_and_bad_files(tmp_path):
    clip = data.synthetic_motion(20, rng=np.random.default_rng(3))
    clip.body_pose[:, 21:] = np.eye(3)  # AMASS cannot carry SMPL's hand joints
    data.write_amass(tmp_path / "c.npz", clip)
    back = data.read_amass(tmp_path / "c.npz", target_fps=None)
    np.testing.assert_allclose(back.body_pose, clip.body_pose, atol=1e-9)
    np.testing.assert_allclose(back.global_orient, clip.global_orient, atol=1e-9)
    np.savez(tmp_path / "shape.npz", betas=np.zeros(16))
    with pytest.raises(InputError, match="no 'poses'"):
        data.read_amass(tmp_path / "shape.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable"):
        data.read_amass(tmp_path / "junk.npz")
    assert data.find_motion_files(tmp_path) == [tmp_path / "c.npz", tmp_path / "junk.npz"]


def test_to_camera_frame_turns_zup_upright_into_y_down():
    clip = data.synthetic_motion(5, rng=np.random.default_rng(0))
    # An AMASS subject standing upright: SMPL's +y (head) points along world +z.
    clip.global_orient[:] = Rotation.from_rotvec([np.pi / 2, 0, 0]).as_matrix()
    cam = data.to_camera_frame(clip, yaw=0.7)
    head_dir = cam.global_orient[0] @ np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(head_dir, [0, -1, 0], atol=1e-9)


def test_feature_sequence_round_trip_and_validation(tmp_path):
    clip = data.synthetic_motion(12, rng=np.random.default_rng(1))
    seq = data.noisy_regression_sequence(clip, feature_dim=32, rng=np.random.default_rng(2))
    seq.image_tokens = np.random.default_rng(0).normal(size=(12, 5, 8)).astype(np.float16)
    seq.keypoints2d = np.zeros((12, 44, 3), np.float32)
    data.write_feature_sequence(tmp_path / "s.npz", seq)
    back = data.read_feature_sequence(tmp_path / "s.npz", load_image_tokens=True)
    assert back.fps == 30.0 and back.name == "s" and back.image_tokens.dtype == np.float16
    np.testing.assert_allclose(back.pred_body_pose, seq.pred_body_pose, atol=1e-6)
    np.testing.assert_array_equal(back.image_tokens, seq.image_tokens)
    assert data.read_feature_sequence(tmp_path / "s.npz").image_tokens is None
    seq.body_pose = seq.body_pose[:, :21]
    data.write_feature_sequence(tmp_path / "bad.npz", seq)
    with pytest.raises(InputError, match="body_pose must have shape"):
        data.read_feature_sequence(tmp_path / "bad.npz")


def test_synthetic_motion_is_smooth_and_noise_is_not():
    rng = np.random.default_rng(5)
    clip = data.synthetic_motion(90, rng=rng)
    assert np.allclose(clip.body_pose @ np.swapaxes(clip.body_pose, -1, -2), np.eye(3), atol=1e-9)
    seq = data.noisy_regression_sequence(clip, noise_deg=6.0, rng=rng)

    def step_angle(rot):  # mean angle between consecutive frames, radians
        rel = np.swapaxes(rot[1:], -1, -2) @ rot[:-1]
        return np.mean(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))

    assert 0.005 < step_angle(clip.body_pose) < 0.08  # moving, at most ~4.6 degrees per frame
    assert step_angle(seq.pred_body_pose) > 2 * step_angle(clip.body_pose)
    err = Rotation.from_matrix((np.swapaxes(seq.pred_body_pose, -1, -2) @ clip.body_pose).reshape(-1, 3, 3))
    assert 3.0 < np.rad2deg(err.magnitude()).mean() < 10.0
