"""Section `decoders`: per-frame cost (latency and MACs) of the pose decoders that replace the
regression head's pose. Random weights: cost does not depend on their values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from fasthmr_ros.bench.context import BenchContext, schedule_token_counts
from fasthmr_ros.bench.harness import Section, device_sync, interleaved_times
from fasthmr_ros.config import DiffusionConfig, GenHMRConfig, diffusion_preset
from fasthmr_ros.models.body_model import BodyModel


def _latency_and_macs(
    fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int
) -> tuple[float, float, float]:
    """(median ms, min ms, MACs) of one call; MACs = FLOPs / 2 from torch's flop counter."""
    with FlopCounterMode(display=False) as counter:
        fn()
    times = interleaved_times({"call": fn}, max(1, repeats), warmup, device_sync(device), "decoder")
    return times.median_ms("call"), times.min_ms("call"), counter.get_total_flops() / 2


def diffusion_cost(
    device: str = "cpu",
    repeats: int = 20,
    preset: str | DiffusionConfig = "paper",
    checkpoint: str | Path | None = None,
    persons: int = 1,
    sample_steps: int = 1,
    warmup: int = 3,
) -> dict[str, Any]:
    """Diffusion decoder per frame for `persons` people: one denoising pass over the window per
    sampling step, one VAE decode and one IK solve (what the node pays per tracked person and frame).
    Paper: 29.5 M parameters, 6.8 GMACs."""
    from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder
    from fasthmr_ros.decoders.diffusion.model import DiffusionModel, load_diffusion_model

    if checkpoint is not None:
        model, _ = load_diffusion_model(checkpoint, map_location=device)
    else:
        model = DiffusionModel(diffusion_preset(preset) if isinstance(preset, str) else preset)
    cfg = model.cfg
    model.vae.skeleton.copy_(torch.randn(29, 3, generator=torch.Generator().manual_seed(1)) * 0.2)
    decoder = DiffusionDecoder(model, sample_steps=sample_steps, device=device)
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(persons, cfg.window, cfg.feature_dim, generator=gen).to(device)
    positions = torch.full((persons,), float(cfg.window - 1), device=device)
    median, least, macs = _latency_and_macs(
        lambda: decoder.decode_windows(features, positions), decoder.device, repeats, warmup
    )
    inference_params = sum(p.numel() for p in model.denoiser.parameters()) + sum(
        p.numel()
        for name, p in model.vae.named_parameters()
        if name.startswith(("latent_in", "frame_queries", "dec_pos", "decoder", "dec_norm", "frame_out"))
    )
    return {
        "decoder": "diffusion",
        "preset": cfg.preset,
        "device": str(decoder.device),
        "persons": persons,
        "window": cfg.window,
        "sample_steps": sample_steps,
        "repeats": max(1, repeats),
        "latency_ms_median": median,
        "latency_ms_min": least,
        "macs": macs,
        "gmacs": macs / 1e9,
        "params_inference_m": inference_params / 1e6,
        "params_total_m": sum(p.numel() for p in model.parameters()) / 1e6,
    }


def genhmr_cost(
    device: str = "cpu",
    repeats: int = 10,
    cfg: GenHMRConfig | None = None,
    num_image_tokens: int = 192,
    batch: int = 1,
    body_model: BodyModel | None = None,
) -> dict[str, Any]:
    """Latency (ms, median) and MACs per frame of GenHMR's sampling and of its refinement.

    `num_image_tokens` is the backbone token count the transformer attends to (192 unmerged,
    90 after the paper's Mask-ToMe). Without a `body_model` the generated stand-in is used; its
    cost equals real SMPL's (same sizes). Refinement runs all its steps (no time budget) and its
    MACs count the backward passes too, since they are real work per frame.
    """
    from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
    from fasthmr_ros.decoders.genhmr.refinement import refine
    from fasthmr_ros.decoders.genhmr.sampling import uncertainty_guided_sample
    from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer

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
    head_token = torch.randn(batch, max(cfg.transformer.head_token_dim, 1), device=dev)
    head = head_token if model.head_token_proj is not None else None
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

    def per_frame(fn: Callable[[], None]) -> dict[str, float]:
        median, _, macs = _latency_and_macs(fn, dev, repeats, warmup=1)
        return {"latency_ms_per_frame": median / batch, "gmacs_per_frame": macs / 1e9 / batch}

    return {
        "device": str(dev),
        "batch": batch,
        "num_image_tokens": num_image_tokens,
        "sampling": {"iterations": cfg.sampling.iterations, **per_frame(sample)},
        "refinement": {"steps": refine_cfg.steps, **per_frame(refinement)},
        "params": {
            "tokenizer": sum(p.numel() for p in tokenizer.parameters()),
            "transformer": sum(p.numel() for p in model.parameters()),
        },
    }


def decoders_section(ctx: BenchContext) -> Section:
    """Per-frame cost of the pose decoders that replace the regression head's pose."""
    device = str(ctx.device)
    section = Section(
        title=f"pose decoders per frame and person, {device}",
        columns=["decoder", "stage", "latency_ms", "gmacs"],
    )
    diff = diffusion_cost(device=device, repeats=ctx.settings.repeats, preset="paper")
    section.rows.append(
        {
            "decoder": "diffusion (paper size)",
            "stage": f"{diff['sample_steps']}-step denoise",
            "latency_ms": round(diff["latency_ms_median"], 2),
            "gmacs": round(diff["gmacs"], 3),
        }
    )
    tokens = schedule_token_counts(192)[-1]
    gen = genhmr_cost(device=device, repeats=ctx.settings.repeats, num_image_tokens=tokens)
    for stage in ("sampling", "refinement"):
        section.rows.append({"decoder": f"genhmr ({tokens} image tokens)", "stage": stage,
                             "latency_ms": round(gen[stage]["latency_ms_per_frame"], 2),
                             "gmacs": round(gen[stage]["gmacs_per_frame"], 3)})  # fmt: skip
    return section
