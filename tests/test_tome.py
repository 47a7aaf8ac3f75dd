"""Mask-ToMe on plain tensors: counts, sizes, person protection, size-weighted merging, attention."""

from __future__ import annotations

import pytest
import torch

from fasthmr_ros.config import MergingConfig
from fasthmr_ros.merging.blocks import attention_with_keys
from fasthmr_ros.merging.schedule import PAPER_SCHEDULE, ScheduleError, TokenSchedule
from fasthmr_ros.merging.tome import TokenState, match, merge_step
from fasthmr_ros.models.vit import Attention

N, C = 192, 16


def _tokens(batch: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, N, C, generator=g, dtype=torch.float64)


def _person_mask(batch: int) -> torch.Tensor:
    """A person occupying the middle columns of the 16 x 12 grid, shifted per crop."""
    grid = torch.zeros(batch, 16, 12, dtype=torch.bool)
    for b in range(batch):
        grid[b, 2:14, 3 + b : 7 + b] = True
    return grid.flatten(1)


def _run(x: torch.Tensor, merges: tuple[int, ...], mask: torch.Tensor | None) -> TokenState:
    state = TokenState.start(x, mask)
    for r in merges:
        state = merge_step(state, state.x, r)
    return state


def test_zero_merge_is_identity() -> None:
    x = _tokens()
    state = _run(x, (0, 0, 0), _person_mask(3))
    assert state.x is x
    assert torch.equal(state.size, torch.ones(3, N, dtype=x.dtype))


@pytest.mark.parametrize("masked", [False, True])
def test_counts_follow_schedule_and_sizes_sum_to_patch_count(masked: bool) -> None:
    x = _tokens()
    state = TokenState.start(x, _person_mask(3) if masked else None)
    counts = TokenSchedule(PAPER_SCHEDULE).token_counts(N)
    for r, expected in zip(PAPER_SCHEDULE, counts[1:], strict=True):
        state = merge_step(state, state.x, r)
        assert state.x.shape == (3, expected, C)
        assert torch.allclose(state.size.sum(dim=1), torch.full((3,), float(N), dtype=x.dtype))
    assert state.num_tokens == 90


def test_person_tokens_are_never_changed() -> None:
    x = _tokens()
    mask = _person_mask(3)
    state = _run(x, PAPER_SCHEDULE, mask)
    assert torch.equal(state.fallback_merges, torch.zeros(3, dtype=torch.long))
    for b in range(3):
        person = mask[b].nonzero().flatten()
        out_rows = {int(o): i for i, o in enumerate(state.origin[b])}
        for p in person.tolist():
            i = out_rows[p]  # every person token survives under its own identity...
            assert torch.equal(state.x[b, i], x[b, p])  # ...bit for bit
            assert state.size[b, i] == 1
            assert state.protected[b, i]
        assert int(state.protected[b].sum()) == len(person)


def test_merged_tokens_are_size_weighted_means_of_their_patches() -> None:
    """Carry one-hot patch ids through the merges to recover each token's members independently."""
    x = _tokens(batch=2, seed=1)
    ids = torch.eye(N, dtype=x.dtype).expand(2, N, N)
    state = TokenState.start(torch.cat([x, ids], dim=-1), _person_mask(2))
    for r in PAPER_SCHEDULE:
        state = merge_step(state, state.x[..., :C], r)  # match on the features only
    members = state.x[..., C:] * state.size[..., None]  # (B, 90, N) 0/1 membership
    assert torch.allclose(members, members.round(), atol=1e-9)
    assert torch.allclose(members.sum(dim=-1), state.size)
    assert torch.allclose(members.sum(dim=1), torch.ones(2, N, dtype=x.dtype))  # a partition
    expected = (members @ x) / state.size[..., None]
    assert torch.allclose(state.x[..., :C], expected, atol=1e-10)


def test_matching_prefers_the_most_similar_pairs() -> None:
    """Two A tokens are exact copies of B tokens: with r=2 those two pairs must merge."""
    x = _tokens(batch=1, seed=2)[:, :8]
    x[0, 2] = x[0, 5] * 3.0  # cosine 1 with token 5 (A index 1 -> B index 2)
    x[0, 6] = x[0, 1]  # A index 3 -> B index 0
    m = match(x, 2, torch.zeros(1, 8, dtype=torch.bool))
    assert sorted(zip(m.src[0].tolist(), m.dst[0].tolist(), strict=True)) == [(1, 2), (3, 0)]


def test_too_little_background_still_gives_fixed_count_and_reports_fallback() -> None:
    x = _tokens(batch=2)
    mask = torch.ones(2, N, dtype=torch.bool)
    mask[1, :40] = False  # crop 1 has 40 background tokens, crop 0 none
    state = _run(x, PAPER_SCHEDULE, mask)
    assert state.x.shape == (2, 90, C)
    assert int(state.fallback_merges[0]) == sum(PAPER_SCHEDULE)
    assert 0 < int(state.fallback_merges[1]) < sum(PAPER_SCHEDULE)


def test_schedule_validation_and_targets() -> None:
    assert TokenSchedule(PAPER_SCHEDULE).token_counts(192) == [192, 152, 112, 90]
    assert TokenSchedule.from_config(MergingConfig(), 192, 32).merges == PAPER_SCHEDULE
    assert TokenSchedule.from_config(MergingConfig(token_schedule=[]), 192, 32).active is False
    assert TokenSchedule.to_target(192, 90, 3).merges == (34, 34, 34)
    target = TokenSchedule.from_config(MergingConfig(target_tokens=100, target_layers=4), 192, 32)
    assert target.final_tokens(192) == 100
    with pytest.raises(ScheduleError, match="at most 96"):
        TokenSchedule((97,)).validate(192, 32)
    with pytest.raises(ScheduleError, match="at most 48"):
        TokenSchedule((96, 49)).validate(192, 32)
    with pytest.raises(ScheduleError, match="only 2 blocks"):
        TokenSchedule((1, 1, 1)).validate(192, 2)
    with pytest.raises(ScheduleError, match="minimum reachable"):
        TokenSchedule.to_target(192, 10, 2)


def test_proportional_attention_equals_duplicated_tokens() -> None:
    """A token of size 3 must attend and be attended like three identical tokens."""
    torch.manual_seed(0)
    attn = Attention(C, 2).double()
    x = _tokens(batch=1)[:, :6]
    size = torch.tensor([[1.0, 3.0, 1.0, 2.0, 1.0, 1.0]], dtype=x.dtype)
    out, keys = attention_with_keys(attn, x, size)
    expanded = x[:, [0, 1, 1, 1, 2, 3, 3, 4, 5]]
    ref, _ = attention_with_keys(attn, expanded, torch.ones(1, 9, dtype=x.dtype))
    assert torch.allclose(out, ref[:, [0, 1, 4, 5, 7, 8]], atol=1e-10)
    assert keys.shape == (1, 6, C // 2)
