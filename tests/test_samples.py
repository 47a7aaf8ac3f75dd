"""Generated sample scenes: deterministic, smooth, people on the floor who pass one another."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets
from fasthmr_ros.samples.scene import (
    CAMERA_HEIGHT,
    render_person_image,
    sample_camera,
    sample_motion,
    write_sample_image,
)


@pytest.fixture(scope="module")
def body(tmp_path_factory):
    assets = ensure_standin_assets(tmp_path_factory.mktemp("standin"))
    return BodyModel(assets.smpl, assets.j19)


def test_camera_is_centred_and_plausible():
    K = sample_camera(640, 480)
    assert K[0, 2] == 320 and K[1, 2] == 240 and K[0, 0] == K[1, 1]
    hfov = 2 * np.degrees(np.arctan(320 / K[0, 0]))
    assert 50 < hfov < 80


def test_motion_is_deterministic_valid_and_smooth():
    a, b = sample_motion(90, 3, seed=4), sample_motion(90, 3, seed=4)
    np.testing.assert_array_equal(a.transl, b.transl)
    np.testing.assert_array_equal(a.body_pose, b.body_pose)
    assert not np.allclose(sample_motion(90, 3, seed=5).transl, a.transl)
    assert a.global_orient.shape == (90, 3, 3, 3) and a.body_pose.shape == (90, 3, 23, 3, 3)
    assert a.betas.shape == (3, 10) and a.transl.shape == (90, 3, 3)
    rots = np.concatenate([a.global_orient.reshape(-1, 3, 3), a.body_pose.reshape(-1, 3, 3)])
    np.testing.assert_allclose(
        rots @ rots.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rots.shape), atol=1e-9
    )
    np.testing.assert_allclose(np.linalg.det(rots), 1.0, atol=1e-9)
    step = np.linalg.norm(np.diff(a.transl, axis=0), axis=-1)
    assert step.max() < 0.06 and step.min() > 0.02  # ~1.2 m/s at 30 fps, never standing still
    relative = np.einsum("tpjab,tpjac->tpjbc", a.body_pose[:-1], a.body_pose[1:])  # R_t^T R_t+1
    angle = np.arccos(np.clip((np.trace(relative, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
    assert angle.max() < 0.2  # under 6 rad/s: no jumps between frames
    with pytest.raises(ValueError):
        sample_motion(0, 1)


def test_people_walk_forwards_on_the_floor_in_view(body):
    motion = sample_motion(60, 2, seed=1)
    K = sample_camera()
    for frame in (0, 59):
        persons = motion.persons(frame)
        orient = torch.as_tensor(np.stack([p[0] for p in persons]), dtype=torch.float32)[:, None]
        pose = torch.as_tensor(np.stack([p[1] for p in persons]), dtype=torch.float32)
        betas = torch.as_tensor(np.stack([p[2] for p in persons]), dtype=torch.float32)
        out = body(orient, pose, betas)
        verts = out.vertices.numpy() + motion.transl[frame][:, None]
        lowest = verts[..., 1].max(axis=1)  # camera y points down
        assert np.all(np.abs(lowest - CAMERA_HEIGHT) < 0.08), lowest
        uv = verts @ K.T
        uv = uv[..., :2] / uv[..., 2:]
        assert (verts[..., 2] > 1.0).all()
        centre_u = np.median(uv[..., 0], axis=1)
        assert ((centre_u > 0) & (centre_u < 1280)).all()
        # Facing where they walk: the nose (joint 0 of the 44 set) is ahead of the pelvis along the velocity.
        velocity = motion.transl[min(frame + 1, 59)] - motion.transl[max(frame - 1, 0)]
        nose_ahead = (out.joints[:, 0] - out.joints[:, 8]).numpy()
        assert (np.einsum("pc,pc->p", nose_ahead[:, [0, 2]], velocity[:, [0, 2]]) > 0).all()


def test_people_pass_one_another_in_the_image():
    motion = sample_motion(450, 2, seed=0)
    u = motion.transl[..., 0] / motion.transl[..., 2]  # normalised image x of each person's root
    order = np.sign(u[:, 0] - u[:, 1])
    assert (np.diff(order) != 0).any()


def test_rendered_scene_shows_people_over_a_gridded_background():
    motion = sample_motion(10, 2, seed=2)
    K = sample_camera(640, 360)
    empty = render_person_image(640, 360, K, [])
    image = render_person_image(640, 360, K, motion.persons(5))
    again = render_person_image(640, 360, K, motion.persons(5))
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, again)
    changed = (image != empty).any(axis=2)
    assert 0.01 < changed.mean() < 0.5
    floor = empty[300:, :, 0].astype(int)
    assert (np.abs(np.diff(floor, axis=1)) > 20).any()  # grid lines on the floor
    top_left, bottom_left = empty[5, 5].astype(int), empty[355, 5].astype(int)
    assert np.abs(top_left - bottom_left).sum() > 60  # wall and floor differ


def test_write_sample_image(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTHMR_CACHE", str(tmp_path / "cache"))
    path = write_sample_image(tmp_path / "demo" / "sample.png", width=320, height=240)
    image = cv2.imread(str(path))
    assert image.shape == (240, 320, 3)
    assert (tmp_path / "cache" / "standin" / "VERSION").is_file()
