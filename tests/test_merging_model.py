"""Mask-ToMe inside the real backbone and head (tiny preset)."""

from __future__ import annotations

import pytest
import torch

from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.merging.blocks import run_blocks
from fasthmr_ros.merging.schedule import ScheduleError, TokenSchedule
from fasthmr_ros.models.hmr import HMR


def _model(seed: int = 0) -> HMR:
    torch.manual_seed(seed)
    model = HMR(model_preset("tiny")).double().eval()
    with torch.no_grad():
        model.backbone.pos_embed.normal_(std=0.5)
    return model


def _crops(batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, 256, 256, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _person(batch: int) -> torch.Tensor:
    grid = torch.zeros(batch, 16, 12, dtype=torch.bool)
    grid[:, 3:13, 4:8] = True
    return grid.flatten(1)


@torch.no_grad()
def test_no_schedule_is_bit_identical_to_the_unmerged_model() -> None:
    model, crops = _model(), _crops()
    reference = {k: v.clone() for k, v in model(crops).items()}
    for off in (None, MergingConfig(token_schedule=[])):
        model.set_token_merging(off)
        out = model(crops, person_mask=_person(2))
        assert set(out) == set(reference)
        for key, value in reference.items():
            assert torch.equal(out[key], value), key


@torch.no_grad()
def test_zero_merges_through_the_merging_path_match_the_plain_blocks() -> None:
    """The merging forward (keys, log-size bias, merge step) computes the same block function."""
    model, crops = _model(), _crops()
    x = model.backbone.embed(crops[:, :, :, 32:-32])
    plain = x
    for block in model.backbone.blocks:
        plain = block(plain)
    state = run_blocks(model.backbone.blocks, x, TokenSchedule((0, 0, 0)), _person(2))
    assert torch.allclose(state.x, plain, atol=1e-12)


@torch.no_grad()
def test_merged_tokens_feed_the_head_and_output_count_follows_schedule() -> None:
    model, crops = _model(), _crops(batch=3)
    schedule = model.set_token_merging(MergingConfig())
    out = model(crops, person_mask=_person(3))
    assert schedule.merges == (40, 40, 22)
    assert out["image_tokens"].shape == (3, 90, 64)
    assert torch.allclose(out["token_sizes"].sum(dim=1), torch.full((3,), 192.0, dtype=torch.float64))
    # Proportional attention: a merged token of size s must weigh in the head like s copies of it.
    # So the head on each crop's merged tokens, each repeated `size` times (192 tokens again, no
    # sizes), must give the model's outputs.
    sizes = out["token_sizes"].round().long()
    for b in range(3):
        repeated = out["image_tokens"][b].repeat_interleave(sizes[b], dim=0)[None]
        assert repeated.shape == (1, 192, 64)
        alone = model.smpl_head(repeated)
        for key in ("global_orient", "body_pose", "betas", "pred_cam"):
            assert torch.allclose(out[key][b], alone[key][0], atol=1e-9), key
            assert torch.isfinite(out[key]).all()
    plain = model(crops)  # no mask: plain ToMe, same count
    assert plain["image_tokens"].shape == (3, 90, 64)
    assert not torch.allclose(plain["image_tokens"], out["image_tokens"])


@torch.no_grad()
def test_merging_identical_background_is_exact_for_person_tokens_and_head() -> None:
    """Identical background tokens merged with proportional attention change nothing else.

    Without positional embeddings, a constant background gives identical interior tokens; a
    merged group of them must act exactly like its members, so every person token comes out of
    the merged backbone as it comes out of the unmerged one, and the head (attending with the
    token sizes) predicts the same SMPL parameters.
    """
    model = _model()
    with torch.no_grad():
        model.backbone.pos_embed.zero_()
    crops = torch.full((2, 3, 256, 256), 0.3, dtype=torch.float64)
    person = _person(2)
    rng = torch.Generator().manual_seed(3)
    # Patch (i, j) sees kept-crop pixels [16i-2, 16i+14) x [16j-2, 16j+14): fill exactly those.
    crops[:, :, 3 * 16 - 2 : 13 * 16 - 2, 32 + 4 * 16 - 2 : 32 + 8 * 16 - 2] = torch.randn(
        2, 3, 160, 64, generator=rng, dtype=torch.float64
    )
    x = model.backbone.embed(crops[:, :, :, 32:-32])
    plain = x
    for block in model.backbone.blocks:
        plain = block(plain)
    state = run_blocks(model.backbone.blocks, x, TokenSchedule((20, 12, 6)), person)
    assert state.num_tokens == 192 - 38
    assert int(state.fallback_merges.sum()) == 0
    for b in range(2):
        for i, origin in enumerate(state.origin[b].tolist()):
            if person[b, origin]:
                assert torch.allclose(state.x[b, i], plain[b, origin], atol=1e-9)

    unmerged = model(crops)
    model.set_token_merging(MergingConfig(token_schedule=[20, 12, 6]))
    merged = model(crops, person_mask=person)
    assert merged["image_tokens"].shape[1] == 154
    for key in ("global_orient", "body_pose", "betas", "pred_cam", "head_token"):
        assert torch.allclose(merged[key], unmerged[key], atol=1e-9), key


def test_bad_schedules_fail_when_set() -> None:
    model = _model()
    with pytest.raises(ScheduleError, match="at most 96"):
        model.set_token_merging(MergingConfig(token_schedule=[100]))
    with pytest.raises(ScheduleError, match="only 4 blocks"):
        model.set_token_merging(MergingConfig(token_schedule=[1, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="person mask has shape"):
        model.set_token_merging(MergingConfig())
        model(_crops(batch=1).double(), person_mask=torch.zeros(1, 100, dtype=torch.bool))
