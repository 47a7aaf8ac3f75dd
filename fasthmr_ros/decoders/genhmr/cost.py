"""Per-frame cost of GenHMR's two inference stages, measured separately (for `fasthmr bench`).

MACs come from `torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2; refinement counts
its backward passes too, since they are real work per frame). Latency is the median over
`repeats` runs after one warm-up. Weights are random: cost does not depend on their values.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from fasthmr_ros.config import GenHMRConfig
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.refinement import refine
from fasthmr_ros.decoders.genhmr.sampling import uncertainty_guided_sample
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer
from fasthmr_ros.models.body_model import BodyModel


def measure_cost(
    device: str = "cpu",
    repeats: int = 10,
    cfg: GenHMRConfig | None = None,
    num_image_tokens: int = 192,
    batch: int = 1,
    body_model: BodyModel | None = None,
) -> dict[str, Any]:
    """Latency (ms, median) and MACs per frame of sampling and of refinement.

    `num_image_tokens` is the backbone token count the transformer attends to (192 unmerged,
    90 after the paper's Mask-ToMe). Without a `body_model` the generated stand-in is used; its
    cost equals real SMPL's (same sizes). Refinement runs all its steps (no time budget).
    """
    cfg = cfg or GenHMRConfig()
    dev = torch.device(device)
    torch.manual_seed(0)
    tokenizer = PoseTokenizer(cfg.tokenizer).to(dev).eval().requires_grad_(False)
    model = MaskedPoseTransformer(cfg.transformer, cfg.tokenizer.num_tokens, cfg.tokenizer.codebook_size)
    model = model.to(dev).eval().requires_grad_(False)
    if body_model is None:
        from fasthmr_ros.models.standin import ensure_standin_assets

        assets = ensure_standin_assets()
        body_model = BodyModel(assets.smpl, assets.j19)
    body_model = body_model.to(dev)
    tokens = torch.randn(batch, num_image_tokens, cfg.transformer.context_dim, device=dev)
    head = torch.randn(batch, max(cfg.transformer.head_token_dim, 1), device=dev)
    head = head if model.head_token_proj is not None else None
    betas = torch.zeros(batch, 10, device=dev)
    cam = torch.tensor([[0.9, 0.0, 0.0]], device=dev).expand(batch, 3)
    keypoints = torch.cat(
        [torch.rand(batch, 17, 2, device=dev) - 0.5, torch.ones(batch, 17, 1, device=dev)], -1
    )
    refine_cfg = dataclasses.replace(cfg.refinement, time_budget_ms=0.0)
    indices = uncertainty_guided_sample(model, tokens, head, cfg.sampling).indices

    def sample() -> None:
        uncertainty_guided_sample(model, tokens, head, cfg.sampling)

    def refinement() -> None:
        refine(model, tokenizer, body_model, indices, tokens, head, betas, cam, keypoints, refine_cfg)

    return {
        "device": str(dev),
        "batch": batch,
        "num_image_tokens": num_image_tokens,
        "sampling": {"iterations": cfg.sampling.iterations, **_measure(sample, dev, repeats, batch)},
        "refinement": {"steps": refine_cfg.steps, **_measure(refinement, dev, repeats, batch)},
        "params": {
            "tokenizer": sum(p.numel() for p in tokenizer.parameters()),
            "transformer": sum(p.numel() for p in model.parameters()),
        },
    }


def _measure(fn, device: torch.device, repeats: int, batch: int) -> dict[str, float]:
    with FlopCounterMode(display=False) as counter:
        fn()
    times = []
    for _ in range(max(repeats, 1) + 1):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return {
        "latency_ms_per_frame": statistics.median(times[1:]) / batch,
        "gmacs_per_frame": counter.get_total_flops() / 2 / 1e9 / batch,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
