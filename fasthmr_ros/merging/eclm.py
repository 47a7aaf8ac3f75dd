"""Error-Constrained Layer Merging (ECLM, FastHMR §3.1): fewer backbone blocks, no fine-tuning.

A window of consecutive blocks i..j becomes one block that replaces block i, with every parameter
tensor set to theta_i + sum_{k=1..j-i} (theta_{i+k} - theta_i). Which windows to merge is found by
a greedy top-down search that keeps the model's MPJPE within `tau` millimetres of the unmerged
model on a calibration set. The merged model is an ordinary checkpoint: `depth` shrinks and
`ModelConfig.merge_plan` records which original blocks each window covered.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from fasthmr_ros.config import ModelConfig, from_dict, to_dict
from fasthmr_ros.errors import CheckpointError

Window = tuple[int, int]  # first and last original block index, inclusive


def merge_parameters(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """theta_i + sum_k (theta_{i+k} - theta_i) for the tensors of blocks i..j (in that order)."""
    base = tensors[0]
    merged = base.clone()
    for t in tensors[1:]:
        merged += t - base
    return merged


def merge_block_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-block state dicts of one window -> the merged block's state dict."""
    keys = list(states[0])
    for s in states[1:]:
        if list(s) != keys:
            raise CheckpointError("cannot merge blocks with different parameter sets")
    return {k: merge_parameters([s[k] for s in states]) for k in keys}


def normalise_plan(plan: Sequence[Sequence[int]], depth: int) -> list[Window]:
    """Sorted, validated windows (each spans >= 2 blocks, inside 0..depth-1, no overlaps)."""
    windows = sorted((int(w[0]), int(w[1])) for w in plan)
    previous_last = -1
    for first, last in windows:
        if not 0 <= first < last < depth:
            raise CheckpointError(
                f"merge window [{first}, {last}] is not a range of >= 2 blocks in 0..{depth - 1}"
            )
        if first <= previous_last:
            raise CheckpointError(f"merge windows overlap at block {first}: {windows}")
        previous_last = last
    return windows


def layer_groups(plan: Sequence[Sequence[int]], depth: int) -> list[Window]:
    """Every new block as the window of original blocks it stands for (singletons included)."""
    groups: list[Window] = []
    windows = iter(normalise_plan(plan, depth))
    current = next(windows, None)
    layer = 0
    while layer < depth:
        if current is not None and current[0] == layer:
            groups.append(current)
            layer = current[1] + 1
            current = next(windows, None)
        else:
            groups.append((layer, layer))
            layer += 1
    return groups


def merged_blocks(blocks: Sequence[nn.Module], plan: Sequence[Sequence[int]]) -> list[nn.Module]:
    """The block list of a merged backbone; unmerged blocks are shared, merged ones are new copies."""
    out: list[nn.Module] = []
    for first, last in layer_groups(plan, len(blocks)):
        if first == last:
            out.append(blocks[first])
            continue
        block = copy.deepcopy(blocks[first])
        block.load_state_dict(merge_block_states([blocks[k].state_dict() for k in range(first, last + 1)]))
        out.append(block)
    return out


def merged_config(cfg: ModelConfig, plan: Sequence[Sequence[int]]) -> ModelConfig:
    """The ModelConfig of `cfg`'s model after merging `plan` (depth shrinks, plan recorded)."""
    if cfg.merge_plan:
        raise CheckpointError(
            "this checkpoint is already layer-merged; merge the original checkpoint instead"
        )
    depth = cfg.backbone.depth
    windows = normalise_plan(plan, depth)
    new = from_dict(ModelConfig, to_dict(cfg))
    new.backbone.depth = len(layer_groups(windows, depth))
    new.merge_plan = [[first, last] for first, last in windows]
    new.original_depth = depth
    return new


def merge_state_dict(
    state: dict[str, torch.Tensor],
    plan: Sequence[Sequence[int]],
    depth: int,
    prefix: str = "backbone.blocks.",
) -> dict[str, torch.Tensor]:
    """A full model state dict -> the merged model's state dict (blocks renumbered 0..new_depth-1)."""
    per_block: list[dict[str, torch.Tensor]] = [{} for _ in range(depth)]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(prefix):
            index, rest = key[len(prefix) :].split(".", 1)
            per_block[int(index)][rest] = value
        else:
            out[key] = value
    for new_index, (first, last) in enumerate(layer_groups(plan, depth)):
        merged = merge_block_states(per_block[first : last + 1]) if last > first else per_block[first]
        for rest, value in merged.items():
            out[f"{prefix}{new_index}.{rest}"] = value
    return out


@dataclass
class WindowTrial:
    """One evaluated candidate of the search."""

    window: Window
    plan: list[Window]  # committed windows plus this candidate
    layers: int
    error_mm: float
    delta_mm: float
    passed: bool


@dataclass
class SearchResult:
    base_error_mm: float
    tau_mm: float
    depth: int
    plan: list[Window] = field(default_factory=list)
    final_error_mm: float = 0.0
    trials: list[WindowTrial] = field(default_factory=list)

    @property
    def final_layers(self) -> int:
        return len(layer_groups(self.plan, self.depth))


def greedy_window_search(
    depth: int,
    tau_mm: float,
    evaluate: Callable[[list[Window]], float],
    on_trial: Callable[[WindowTrial], None] | None = None,
) -> SearchResult:
    """FastHMR's greedy top-down search (REFERENCE §2.1).

    `evaluate(plan)` returns the calibration MPJPE (mm) of the model merged with `plan`; it is
    called once with [] for the base error. A candidate passes when its error exceeds the base
    by less than tau; every evaluation includes the windows already committed, so the final
    model's error is an evaluated, passing one.
    """
    base = evaluate([])
    result = SearchResult(base_error_mm=base, tau_mm=tau_mm, depth=depth, final_error_mm=base)
    committed: list[Window] = []
    last_passing_error = base
    high, low = depth - 1, depth - 2

    def commit_or_slide() -> tuple[int, int]:
        nonlocal last_passing_error
        if high - (low + 1) >= 1:
            committed.append((low + 1, high))
            result.final_error_mm = last_passing_error
            new_high = low
        else:
            new_high = high - 1
        return new_high, new_high - 1

    while low >= 0:
        plan = sorted([*committed, (low, high)])
        error = evaluate(plan)
        trial = WindowTrial((low, high), plan, len(layer_groups(plan, depth)), error, error - base,
                            error - base < tau_mm)
        result.trials.append(trial)
        if on_trial is not None:
            on_trial(trial)
        if trial.passed:
            last_passing_error = error
            low -= 1
            continue
        high, low = commit_or_slide()
    if high - (low + 1) >= 1:  # the window was still passing when it reached block 0
        commit_or_slide()
    result.plan = sorted(committed)
    return result
