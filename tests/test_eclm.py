"""ECLM: the merge formula, plan bookkeeping, and the greedy search on a constructed model."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fasthmr_ros.config import model_preset
from fasthmr_ros.errors import CheckpointError
from fasthmr_ros.merging.eclm import (
    Calibration,
    CalibrationEvaluator,
    apply_merge_plan,
    greedy_window_search,
    layer_groups,
    merge_parameters,
    mpjpe_mm,
)
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model, save_checkpoint
from fasthmr_ros.models.hmr import HMR

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
DEPTH = 8
NEAR_IDENTITY = (1, 4, 5, 6)  # blocks whose residual branches are ~0
OUTPUT_PARAMS = ("attn.proj.weight", "attn.proj.bias", "mlp.fc2.weight", "mlp.fc2.bias")


def write_random_smpl(path: Path, vertices: int = 6890, seed: int = 0) -> Path:
    """A made-up SMPL-layout .pkl: a skeleton of 24 joints with vertices scattered around it."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((24, 3))
    for j in range(1, 24):
        joints[j] = joints[SMPL_PARENTS[j]] + rng.normal(0, 0.12, 3)
    owner = rng.integers(0, 24, vertices)
    v_template = joints[owner] + rng.normal(0, 0.03, (vertices, 3))
    regressor = np.zeros((24, vertices))
    regressor[owner, np.arange(vertices)] = 1.0
    regressor /= regressor.sum(axis=1, keepdims=True).clip(min=1)
    for j in np.flatnonzero(regressor.sum(axis=1) == 0):  # a joint without vertices: nearest one
        regressor[j, np.argmin(np.linalg.norm(v_template - joints[j], axis=1))] = 1.0
    weights = np.zeros((vertices, 24))
    weights[np.arange(vertices), owner] = 1.0
    data = {
        "v_template": v_template,
        "shapedirs": rng.normal(0, 0.01, (vertices, 3, 10)),
        "posedirs": np.zeros((vertices, 3, 207)),
        "J_regressor": regressor,
        "weights": weights,
        "f": rng.integers(0, vertices, (400, 3)),
        "kintree_table": np.array([[4294967295, *SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64),
    }
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return path


def constructed_model(seed: int = 0) -> HMR:
    """8 blocks; blocks 4-6 share their input-side weights and, like block 1, do almost nothing.

    Merging a near-identity block i with block i+1 gives theta_{i+1}; 4..7 merge to theta_7
    because 4-6 share every input-side tensor. Any window that drops a normal block is far off.
    """
    cfg = model_preset("tiny")
    cfg.backbone.depth = DEPTH
    torch.manual_seed(seed)
    model = HMR(cfg).eval()
    with torch.no_grad():
        model.backbone.pos_embed.normal_(std=0.5)
        template = {k: v.clone() for k, v in model.backbone.blocks[4].state_dict().items()}
        for i in NEAR_IDENTITY:
            block = model.backbone.blocks[i]
            state = block.state_dict()
            for key, value in state.items():
                if key in OUTPUT_PARAMS:
                    value.normal_(std=1e-5)
                elif i in (4, 5, 6):
                    value.copy_(template[key])
        for p in model.smpl_head.parameters():  # make the pose read-out sensitive
            p.mul_(2.0)
    return model


@pytest.fixture(scope="module")
def body(tmp_path_factory: pytest.TempPathFactory) -> BodyModel:
    return BodyModel(write_random_smpl(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl"))


def _calibration(n: int = 6) -> Calibration:
    crops = torch.randn(n, 3, 256, 256, generator=torch.Generator().manual_seed(7))
    return Calibration(crops=crops)


def test_merge_formula_on_three_tensors() -> None:
    a, b, c = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 5.0]), torch.tensor([-1.0, 4.0])
    assert torch.equal(merge_parameters([a, b, c]), a + (b - a) + (c - a))
    assert torch.equal(merge_parameters([a, b]), b)
    assert torch.equal(merge_parameters([a]), a)


def test_layer_groups_and_plan_validation() -> None:
    assert layer_groups([[1, 2], [4, 7]], 8) == [(0, 0), (1, 2), (3, 3), (4, 7)]
    for bad in ([[2, 2]], [[0, 8]], [[1, 3], [3, 5]]):
        with pytest.raises(CheckpointError):
            layer_groups(bad, 8)


def test_search_follows_the_reference_procedure() -> None:
    """A scripted error table: which windows pass, and the exact order of trials."""
    passing = {(6, 7), (5, 7), (2, 3)}

    def evaluate(plan: list[tuple[int, int]]) -> float:
        if not plan:
            return 10.0
        return 10.0 + (0.05 if all(w in passing or w in {(5, 7)} for w in plan) else 5.0)

    result = greedy_window_search(8, tau_mm=0.1, evaluate=evaluate)
    tried = [t.window for t in result.trials]
    assert tried == [(6, 7), (5, 7), (4, 7), (3, 4), (2, 3), (1, 3), (0, 1)]
    assert result.plan == [(2, 3), (5, 7)]
    assert result.final_layers == 5
    assert result.final_error_mm == pytest.approx(10.05)


def test_eclm_merges_exactly_the_redundant_blocks_and_stays_within_tau(body: BodyModel, tmp_path) -> None:
    model = constructed_model()
    tau = 0.5
    evaluator = CalibrationEvaluator(model, body, _calibration())
    result = greedy_window_search(DEPTH, tau, evaluator)
    assert result.base_error_mm == 0.0  # label-free: the unmerged model is its own reference
    assert result.plan == [(1, 2), (4, 7)]
    assert result.final_layers == 4
    assert all(t.passed == (t.delta_mm < tau) for t in result.trials)
    failing = [t for t in result.trials if not t.passed]
    assert failing and min(t.delta_mm for t in failing) > 10 * tau  # the test model separates them
    assert result.final_error_mm < tau

    merged = apply_merge_plan(model, result.plan)
    path = save_checkpoint(merged, tmp_path / "merged.pt")
    loaded = load_model(path)
    assert loaded.config.backbone.depth == 4
    assert loaded.config.merge_plan == [[1, 2], [4, 7]]
    assert loaded.config.original_depth == DEPTH
    with torch.no_grad():
        out = loaded(_calibration().crops)
    joints = body(out["global_orient"], out["body_pose"], out["betas"]).smpl_joints
    assert mpjpe_mm(joints, evaluator.reference, "smpl_24") == pytest.approx(result.final_error_mm, abs=1e-3)
    assert mpjpe_mm(joints, evaluator.reference, "smpl_24") < tau
    with pytest.raises(CheckpointError, match="already layer-merged"):
        apply_merge_plan(loaded, [[0, 1]])


def test_cached_and_uncached_evaluation_agree_and_labels_shift_the_base(body: BodyModel) -> None:
    model = constructed_model(seed=1)
    calib = _calibration(4)
    full = CalibrationEvaluator(model, body, calib)
    strided = CalibrationEvaluator(model, body, calib, batch_size=3, cache_bytes=1)
    assert strided.cache_stride == DEPTH
    for plan in ([], [[2, 3]], [[0, 1], [5, 7]]):
        assert full(plan) == pytest.approx(strided(plan), rel=1e-5, abs=1e-4)  # float32, other batches

    noise = torch.randn(full.reference.shape, generator=torch.Generator().manual_seed(0)) * 0.01
    labelled = CalibrationEvaluator(model, body, Calibration(calib.crops, full.reference + noise, "smpl_24"))
    assert labelled([]) > 1.0  # 1 cm noise per axis on the labels
    assert labelled([]) == pytest.approx(mpjpe_mm(full.reference, full.reference + noise, "smpl_24"))
