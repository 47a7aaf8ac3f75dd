"""Settings of one `fasthmr bench` run and the models its sections share (built once, lazily)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from fasthmr_ros.bench.harness import Timings, device_sync, interleaved_times
from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.errors import InputError
from fasthmr_ros.merging.schedule import TokenSchedule
from fasthmr_ros.models.hmr import HMR

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class BenchSettings:
    """What `fasthmr bench` was asked for (its flags, typed)."""

    model: str = "vit_h"
    checkpoint: str | None = None
    merged: str | None = None
    device: str = "cpu"
    batch: int = 1
    batches: str | None = None
    repeats: int = 5
    warmup: int = 1
    dtypes: str | None = None
    threads: int | None = None
    sections: str | None = None
    paths: str | None = None
    smpl: str | None = None
    j19: str | None = None
    json: str | None = None


@dataclass
class Variant:
    name: str
    model: HMR
    person_mask: torch.Tensor | None
    layers: int
    tokens: int


def default_eclm_plan(depth: int) -> list[list[int]]:
    """HMR 2.0-like 32 -> 28: merge the top depth/8 pairs of blocks (ECLM merges late layers)."""
    pairs = max(1, depth // 8)
    return [[depth - 2 * k - 2, depth - 2 * k - 1] for k in reversed(range(pairs))]


def merged_view(model: HMR, plan: list[list[int]]) -> HMR:
    """An ECLM-merged model sharing every unmerged tensor with `model` (no second ViT-H in memory)."""
    from fasthmr_ros.eclm.merge import merged_blocks, merged_config

    view = copy.copy(model)
    view._modules = dict(model._modules)
    backbone = copy.copy(model.backbone)
    backbone._modules = dict(model.backbone._modules)
    backbone.blocks = nn.ModuleList(merged_blocks(list(model.backbone.blocks), plan))
    view.config = merged_config(model.config, plan)
    backbone.cfg = view.config.backbone
    view.backbone = backbone
    return view


def with_token_merging(model: HMR, merging: MergingConfig) -> tuple[HMR, TokenSchedule]:
    """A shallow copy of `model` with Mask-ToMe on; weights stay shared. Returns (copy, schedule)."""
    model = copy.copy(model)
    model._modules = dict(model._modules)
    model.backbone = copy.copy(model.backbone)
    schedule = model.set_token_merging(merging)
    return model, schedule


def person_mask_for_bench(batch: int, cfg: Any) -> torch.Tensor:
    """A standing person: an ellipse over 40% of the crop (the real mask source does not change timing)."""
    import cv2

    from fasthmr_ros.merging.masks import patch_labels

    crop = np.zeros((256, 256), np.float32)
    cv2.ellipse(crop, (128, 128), (52, 122), 0, 0, 360, 1.0, -1)
    labels = patch_labels(torch.from_numpy(crop)[None], cfg.backbone, MergingConfig().mask_threshold)
    return labels.expand(batch, -1).clone()


def schedule_token_counts(num_tokens: int) -> list[int]:
    """Token counts the default Mask-ToMe schedule passes through (192, 152, 112, 90)."""
    return TokenSchedule(tuple(MergingConfig().token_schedule)).token_counts(num_tokens)


class BenchContext:
    """Settings plus the shared, lazily built objects every section may use."""

    def __init__(self, settings: BenchSettings) -> None:
        self.settings = settings
        self.device = torch.device(settings.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda given but torch sees no CUDA GPU")
        if settings.batch < 1 or settings.repeats < 1 or settings.warmup < 0:
            raise InputError("--batch and --repeats must be >= 1, --warmup >= 0")
        default = ["fp32"] if self.device.type == "cpu" else list(DTYPES)
        names = settings.dtypes.split(",") if settings.dtypes else default
        unknown = [n for n in names if n not in DTYPES]
        if unknown:
            raise InputError(f"unknown dtypes {unknown}; choose from {list(DTYPES)}")
        self.dtypes = names
        self.sync = device_sync(self.device)

    def time(self, runs: dict[str, Callable[[], Any]], desc: str) -> Timings:
        s = self.settings
        return interleaved_times(runs, s.repeats, s.warmup, self.sync, desc)

    @property
    def model_name(self) -> str:
        return self.settings.checkpoint or self.settings.model

    @cached_property
    def baseline(self) -> HMR:
        from fasthmr_ros.models.checkpoint import load_model

        if self.settings.checkpoint:
            return load_model(self.settings.checkpoint, device=self.device)
        log.info("building %s with random weights (timing does not depend on them)", self.settings.model)
        try:
            cfg = model_preset(self.settings.model)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        torch.manual_seed(0)
        return HMR(cfg).eval().to(self.device)

    @cached_property
    def eclm(self) -> tuple[HMR, str]:
        from fasthmr_ros.models.checkpoint import load_model

        if self.settings.merged:
            model = load_model(self.settings.merged, device=self.device)
            return model, f"{self.settings.merged}: plan {model.config.merge_plan}"
        plan = default_eclm_plan(self.baseline.config.backbone.depth)
        return merged_view(self.baseline, plan), f"default plan {plan} (no --merged given)"

    def variants(self, batch: int | None = None) -> list[Variant]:
        """baseline, +ECLM, +Mask-ToMe, both; Mask-ToMe copies share weights with their base."""
        batch = batch or self.settings.batch
        eclm, _ = self.eclm
        out = []
        for name, model, tome in (
            ("baseline", self.baseline, False),
            ("+ECLM", eclm, False),
            ("+Mask-ToMe", self.baseline, True),
            ("ECLM+Mask-ToMe", eclm, True),
        ):
            tokens = model.backbone.grid_size[0] * model.backbone.grid_size[1]
            mask = None
            if tome:
                model, schedule = with_token_merging(model, MergingConfig())
                mask = person_mask_for_bench(batch, model.config).to(self.device)
                tokens = schedule.final_tokens(tokens)
            out.append(Variant(name, model, mask, len(model.backbone.blocks), tokens))
        return out

    def crops(self, dtype: torch.dtype = torch.float32, batch: int | None = None) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(batch or self.settings.batch, 3, 256, 256, generator=gen).to(self.device, dtype)
