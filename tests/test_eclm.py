"""ECLM: the merge formula, plan bookkeeping, and the greedy search on a constructed model."""

from __future__ import annotations

import pytest
import torch
from eclm_fixtures import DEPTH, constructed_model

from fasthmr_ros.eclm.merge import (
    Calibration,
    CalibrationError,
    CalibrationEvaluator,
    apply_merge_plan,
    greedy_window_search,
    layer_groups,
    merge_parameters,
)
from fasthmr_ros.errors import CheckpointError
from fasthmr_ros.evaluation.metrics import mpjpe_mm
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model, save_checkpoint
from fasthmr_ros.models.standin import write_standin_j19, write_standin_smpl


@pytest.fixture(scope="module")
def body(tmp_path_factory: pytest.TempPathFactory) -> BodyModel:
    folder = tmp_path_factory.mktemp("body")
    return BodyModel(write_standin_smpl(folder / "SMPL_NEUTRAL.pkl"), write_standin_j19(folder / "j19.pkl"))


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


def test_labels_in_the_44_joint_order_and_mismatches(body: BodyModel) -> None:
    model = constructed_model(seed=2)
    calib = _calibration(3)
    with torch.no_grad():
        out = model(calib.crops)
    joints44 = body(out["global_orient"], out["body_pose"], out["betas"]).joints
    assert joints44.shape[1] == 44
    shifted = joints44 + torch.tensor([0.0, 0.0, 0.002])  # a pure translation: pelvis-aligned away
    evaluator = CalibrationEvaluator(model, body, Calibration(calib.crops, shifted, "hmr2_44"))
    assert evaluator([]) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(CalibrationError, match="smpl_45"):
        CalibrationEvaluator(model, body, Calibration(calib.crops, joints44, "smpl_45"))
    with pytest.raises(CalibrationError, match="shape"):
        CalibrationEvaluator(model, body, Calibration(calib.crops, joints44[:, :30], "hmr2_44"))
