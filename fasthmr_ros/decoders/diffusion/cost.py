"""Per-frame cost of the diffusion decoder (latency and MACs), for `fasthmr bench`.

One frame for one person = one denoising pass over the window (per sampling step), one VAE
decode of the window and one IK solve: that is what the node pays per tracked person and frame.
Random weights: cost does not depend on their values. Paper: 29.5 M parameters, 6.8 GMACs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from fasthmr_ros.config import DiffusionConfig, diffusion_preset
from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder
from fasthmr_ros.decoders.diffusion.model import DiffusionModel, load_diffusion_model


def measure_cost(
    device: str = "cpu",
    repeats: int = 20,
    preset: str | DiffusionConfig = "paper",
    checkpoint: str | Path | None = None,
    persons: int = 1,
    sample_steps: int = 1,
    warmup: int = 3,
) -> dict:
    """Latency (median over `repeats`, ms) and MACs (FLOPs / 2) per frame for `persons` people."""
    if checkpoint is not None:
        model, _ = load_diffusion_model(checkpoint, map_location=device)
    else:
        cfg = diffusion_preset(preset) if isinstance(preset, str) else preset
        model = DiffusionModel(cfg)
    cfg = model.cfg
    model.vae.skeleton.copy_(torch.randn(29, 3, generator=torch.Generator().manual_seed(1)) * 0.2)
    decoder = DiffusionDecoder(model, sample_steps=sample_steps, device=device)
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(persons, cfg.window, cfg.feature_dim, generator=gen).to(device)
    positions = torch.full((persons,), float(cfg.window - 1), device=device)

    def once() -> None:
        decoder.decode_windows(features, positions)
        if decoder.device.type == "cuda":
            torch.cuda.synchronize(decoder.device)

    with FlopCounterMode(display=False) as counter:
        once()
    for _ in range(warmup):
        once()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000.0)
    inference_params = sum(p.numel() for p in model.denoiser.parameters()) + sum(
        p.numel()
        for name, p in model.vae.named_parameters()
        if name.startswith(("latent_in", "frame_queries", "dec_pos", "decoder", "dec_norm", "frame_out"))
    )
    macs = counter.get_total_flops() / 2
    return {
        "decoder": "diffusion",
        "preset": cfg.preset,
        "device": str(decoder.device),
        "persons": persons,
        "window": cfg.window,
        "sample_steps": sample_steps,
        "repeats": len(times),
        "latency_ms_median": statistics.median(times),
        "latency_ms_min": min(times),
        "macs": macs,
        "gmacs": macs / 1e9,
        "params_inference_m": inference_params / 1e6,
        "params_total_m": sum(p.numel() for p in model.parameters()) / 1e6,
    }
