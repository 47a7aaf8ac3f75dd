"""Refinement on a synthetic case with a known 3D pose: the 2D error must drop and the pose stay valid."""

import pytest
import torch

from fasthmr_ros.config import GenHMRRefinementConfig
from fasthmr_ros.decoders.genhmr.keypoints import coco17_joint_index, project_to_crop
from fasthmr_ros.decoders.genhmr.refinement import refine
from fasthmr_ros.decoders.genhmr.skeleton import full_body_pose
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets
from tests.genhmr_fixtures import TINY_TOKENIZER, image_context, tiny_models

B = 3


@pytest.fixture(scope="module")
def body_model():
    assets = ensure_standin_assets()
    return BodyModel(assets.smpl, assets.j19)


@pytest.fixture(scope="module")
def case(body_model):
    """Known target tokens -> target pose and its exact 2D keypoints; start from perturbed tokens."""
    tokenizer, transformer = tiny_models(seed=3)
    tokens, head = image_context(B, seed=4)
    g = torch.Generator().manual_seed(7)
    K, N = TINY_TOKENIZER.codebook_size, TINY_TOKENIZER.num_tokens
    target = torch.randint(0, K, (B, N), generator=g)
    start = target.clone()
    start[:, ::2] = torch.randint(0, K, (B, N // 2), generator=g)
    betas = torch.zeros(B, 10)
    cam = torch.tensor([[0.9, 0.02, -0.05]]).expand(B, 3)
    with torch.no_grad():
        orient = transformer(target, tokens, head).global_orient
        body = full_body_pose(tokenizer.decode(target))
        joints = body_model(orient, body, betas).joints[:, coco17_joint_index(body_model.joint_set)]
        kp = torch.cat([project_to_crop(joints, cam), torch.ones(B, 17, 1)], dim=-1)
    return dict(tokenizer=tokenizer, transformer=transformer, tokens=tokens, head=head, start=start,
                betas=betas, cam=cam, kp=kp)  # fmt: skip


def _run(case, body_model, **overrides):
    cfg = GenHMRRefinementConfig(
        **{"steps": 25, "lr": 0.1, "prior_weight": 0.001, "time_budget_ms": 0, **overrides}
    )
    c = case
    return refine(c["transformer"], c["tokenizer"], body_model, c["start"], c["tokens"], c["head"],
                  c["betas"], c["cam"], c["kp"], cfg)  # fmt: skip


def _assert_valid_rotations(R):
    eye = torch.eye(3).expand_as(R)
    assert torch.isfinite(R).all()
    assert torch.allclose(R.transpose(-1, -2) @ R, eye, atol=1e-4)
    assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2]), atol=1e-4)


def test_refinement_lowers_reprojection_error(case, body_model):
    result = _run(case, body_model)
    assert result.steps_done == 25
    assert (result.reprojection_before_px > 1.0).all()  # the perturbed start really is off
    assert (result.reprojection_after_px < 0.6 * result.reprojection_before_px).all()


def test_refined_pose_stays_a_valid_smpl_pose(case, body_model):
    result = _run(case, body_model, lr=1.0, steps=15)  # large steps push hard on the pose space
    _assert_valid_rotations(result.global_orient)
    _assert_valid_rotations(result.body_pose)
    assert result.body_pose.shape == (B, 23, 3, 3) and result.global_orient.shape == (B, 1, 3, 3)
    assert torch.allclose(result.body_pose[:, 21:], torch.eye(3).expand(B, 2, 3, 3))  # hands untouched
    assert (result.reprojection_after_px <= result.reprojection_before_px + 1e-4).all()


def test_time_budget_stops_early_and_returns_the_sampled_pose(case, body_model):
    result = _run(case, body_model, time_budget_ms=1e-6)
    assert result.steps_done == 0
    with torch.no_grad():
        sampled = full_body_pose(case["tokenizer"].decode(case["start"]))
    assert torch.allclose(result.body_pose, sampled, atol=1e-5)
    assert torch.allclose(result.reprojection_after_px, result.reprojection_before_px, atol=1e-4)


def test_prior_keeps_the_pose_near_the_sampled_one(case, body_model):
    with torch.no_grad():
        sampled = full_body_pose(case["tokenizer"].decode(case["start"]))
    loose = _run(case, body_model, prior_weight=0.0, steps=10)
    tight = _run(case, body_model, prior_weight=100.0, steps=10)
    drift = lambda r: (r.body_pose - sampled).pow(2).sum()  # noqa: E731
    assert drift(tight) < 0.25 * drift(loose)


def test_wrong_keypoint_layout_is_a_clear_error(case, body_model):
    bad = dict(case, kp=torch.zeros(B, 25, 3))
    with pytest.raises(InputError, match="COCO-17"):
        _run(bad, body_model)
