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
from fasthmr_ros.errors import CheckpointError, FastHMRError
from fasthmr_ros.evaluation.metrics import mpjpe_mm
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.hmr import CROP_COLUMN_MARGIN, HMR
from fasthmr_ros.models.joints import JOINT_SET_SMPL24

Window = tuple[int, int]  # first and last original block index, inclusive


class CalibrationError(FastHMRError, ValueError):
    """Calibration data that cannot be used to evaluate a merge."""


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
    """FastHMR's greedy top-down search (docs/merging.md).

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
        trial = WindowTrial(
            (low, high), plan, len(layer_groups(plan, depth)), error, error - base, error - base < tau_mm
        )
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


def apply_merge_plan(model: HMR, plan: Sequence[Sequence[int]]) -> HMR:
    """A new HMR with `plan` merged into its backbone; loads and saves like any checkpoint."""
    cfg = merged_config(model.config, plan)
    merged = HMR(cfg)
    merged.load_state_dict(merge_state_dict(model.state_dict(), plan, model.config.backbone.depth))
    return merged.eval()


@dataclass
class Calibration:
    """Crops to calibrate on and, when labelled, their ground-truth 3D joints.

    crops: (N, 3, 256, 256) normalised. joints: (N, J, 3) metres or None (label-free: the
    unmerged model's own joints become the reference). joint_set names the joint order.
    """

    crops: torch.Tensor
    joints: torch.Tensor | None = None
    joint_set: str = JOINT_SET_SMPL24
    bbox_info: torch.Tensor | None = None  # (N, 3) for CameraHMR-style heads

    def __len__(self) -> int:
        return self.crops.shape[0]


class CalibrationEvaluator:
    """MPJPE (mm) of merge plans on a calibration set, reusing the base model's activations.

    Blocks below a plan's lowest window are the original ones, so their outputs never change
    during the search: the inputs of every `cache_stride`-th block are kept once (within
    `cache_bytes`) and each evaluation restarts from the nearest kept layer.
    """

    def __init__(
        self,
        model: HMR,
        body: BodyModel,
        calib: Calibration,
        batch_size: int = 8,
        cache_bytes: int = 2 << 30,
        device: str | torch.device = "cpu",
    ) -> None:
        if model.config.merge_plan:
            raise CheckpointError("ECLM needs the unmerged checkpoint; this one is already layer-merged")
        self.model = model.eval().to(device)
        self.body = body.to(device)
        self.calib = calib
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.blocks = list(model.backbone.blocks)
        self.depth = len(self.blocks)
        self.joint_set = JOINT_SET_SMPL24 if calib.joints is None else calib.joint_set
        if self.joint_set not in (JOINT_SET_SMPL24, body.joint_set):
            raise CalibrationError(
                f"calibration joints are {self.joint_set!r} but the body model gives {body.joint_set!r} "
                f"(or {JOINT_SET_SMPL24!r}); label the joints in one of those orders"
            )
        per_layer = len(calib) * model.backbone.grid_size[0] * model.backbone.grid_size[1]
        per_layer *= model.config.backbone.embed_dim * 4
        self.cache_stride = min(self.depth, max(1, -(-per_layer * self.depth // max(cache_bytes, 1))))
        self.cache: dict[int, list[torch.Tensor]] = {}
        self.reference = self._build_cache_and_reference()

    def _batches(self) -> list[slice]:
        n = len(self.calib)
        return [slice(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size)]

    def _joints(self, tokens: torch.Tensor, batch: slice) -> torch.Tensor:
        info = None
        if self.model.needs_bbox_info:
            if self.calib.bbox_info is None:
                raise CalibrationError("a CameraHMR-style model needs bbox_info for its calibration crops")
            info = self.calib.bbox_info[batch].to(self.device)
        out = self.model.smpl_head(self.model.backbone.last_norm(tokens), bbox_info=info)
        body = self.body(out["global_orient"], out["body_pose"], out["betas"])
        return body.smpl_joints if self.joint_set == JOINT_SET_SMPL24 else body.joints

    @torch.inference_mode()
    def _build_cache_and_reference(self) -> torch.Tensor:
        joints = []
        for batch in self._batches():
            x = self.model.backbone.embed(self._crops(batch))
            for layer, block in enumerate(self.blocks):
                if layer % self.cache_stride == 0:
                    self.cache.setdefault(layer, []).append(x)
                x = block(x)
            joints.append(self._joints(x, batch).cpu())
        own = torch.cat(joints)
        if self.calib.joints is None:
            return own
        if self.calib.joints.shape[1:] != own.shape[1:]:
            raise CalibrationError(
                f"calibration joints have shape {tuple(self.calib.joints.shape[1:])} but the model gives "
                f"{tuple(own.shape[1:])} for joint set {self.joint_set!r}"
            )
        return self.calib.joints.float()

    def _crops(self, batch: slice) -> torch.Tensor:
        x = self.calib.crops[batch].to(self.device)
        return x[:, :, :, CROP_COLUMN_MARGIN:-CROP_COLUMN_MARGIN]

    @torch.inference_mode()
    def __call__(self, plan: Sequence[Sequence[int]]) -> float:
        windows = normalise_plan(plan, self.depth)
        first = windows[0][0] if windows else self.depth
        start = (first // self.cache_stride) * self.cache_stride
        start = min(start, max(self.cache))
        new_blocks = merged_blocks(self.blocks, windows)
        # New block index `first` is the first merged window; below it new == original indices.
        tail = self.blocks[start:first] + new_blocks[first:] if windows else self.blocks[start:]
        joints = []
        for b, batch in enumerate(self._batches()):
            x = self.cache[start][b]
            for block in tail:
                x = block(x)
            joints.append(self._joints(x, batch).cpu())
        return mpjpe_mm(torch.cat(joints), self.reference, self.joint_set)
