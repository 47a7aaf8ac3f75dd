"""Training-time augmentation of `fasthmr train-hmr`: a mirrored crop must carry labels that the
body model and the crop camera agree with, or the network learns from wrong targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fasthmr_ros.models.joints import SMPL_MIRRORED
from fasthmr_ros.samples.dataset import read_labelled_set, usable_persons
from fasthmr_ros.samples.scene import standin_body_model
from fasthmr_ros.samples.synth import SynthConfig, write_synth_set
from fasthmr_ros.training.hmr import crop_projection, make_batch, mirror_batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("train") / "set"
    cfg = SynthConfig(width=160, height=120, min_depth=2.0, max_depth=3.5)
    write_synth_set(root, images=4, seed=11, cfg=cfg, progress=False)
    ds = read_labelled_set(root)
    rows = usable_persons(ds)[:6]
    return make_batch(ds, rows, 0.0, np.random.default_rng(0))


def test_mirrored_rotations_give_the_mirrored_joints_and_projections(batch) -> None:
    body = standin_body_model()
    everyone = torch.ones(len(batch.crops), dtype=torch.bool)
    mirrored = mirror_batch(batch, everyone)
    assert torch.equal(mirrored.crops, batch.crops.flip(-1))

    joints = body(mirrored.global_orient, mirrored.body_pose, mirrored.betas).smpl_joints
    rel = joints - joints[:, :1]
    true_rel = mirrored.joints3d - mirrored.joints3d[:, :1]
    assert float((rel - true_rel).norm(dim=-1).max()) < 2e-3  # metres: the body is symmetric

    # The crop camera's projection error is the original one, joint for joint (left and right
    # swapped): mirroring moves labels and camera together.
    original = body(batch.global_orient, batch.body_pose, batch.betas).smpl_joints
    error = (crop_projection(original, batch.cam) - batch.joints2d).norm(dim=-1)
    error_mirrored = (crop_projection(joints, mirrored.cam) - mirrored.joints2d).norm(dim=-1)
    torch.testing.assert_close(error_mirrored, error[:, list(SMPL_MIRRORED)], atol=2e-3, rtol=0)
    assert float(error.mean()) < 0.1  # and the crop camera does place the joints (crop units)


def test_only_the_chosen_persons_are_mirrored_and_twice_is_identity(batch) -> None:
    which = torch.arange(len(batch.crops)) % 2 == 0
    once = mirror_batch(batch, which)
    assert torch.equal(once.crops[~which], batch.crops[~which])
    assert not torch.equal(once.body_pose[which], batch.body_pose[which])
    twice = mirror_batch(once, which)
    for name in ("crops", "global_orient", "body_pose", "betas", "joints3d", "joints2d", "cam"):
        torch.testing.assert_close(getattr(twice, name), getattr(batch, name), atol=1e-6, rtol=0)
