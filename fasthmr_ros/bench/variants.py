"""Sections `variants` (what ECLM and Mask-ToMe buy, end to end) and `block_scaling` (why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fasthmr_ros.bench.context import DTYPES, BenchContext, Variant, schedule_token_counts
from fasthmr_ros.bench.harness import Section, count_macs
from fasthmr_ros.config import MergingConfig


def forward_fn(v: Variant, crops: torch.Tensor) -> Callable[[], Any]:
    def run_once() -> Any:
        with torch.inference_mode():
            return v.model(crops, person_mask=v.person_mask)

    return run_once


def variants_section(ctx: BenchContext) -> Section:
    """Encoder + SMPL head of each variant: latency, throughput, MACs, speed-ups."""
    batch = ctx.settings.batch
    section = Section(
        title=f"encoder+head, {ctx.model_name}, batch {batch}, {ctx.device}",
        columns=["variant", "dtype", "layers", "tokens", "median_ms", "crops_per_s", "gmacs_per_crop",
                 "speedup", "mac_ratio", "min_ms", "min_speedup"],
    )  # fmt: skip
    if ctx.device.type == "cpu":
        section.columns += ["cpu_ms", "cpu_speedup"]
    section.notes.append(f"ECLM: {ctx.eclm[1]}")
    section.notes.append(
        f"Mask-ToMe: schedule {list(MergingConfig().token_schedule)}, elliptical person mask"
    )
    variants = ctx.variants()
    for dtype_name in ctx.dtypes:
        dtype = DTYPES[dtype_name]
        for v in variants:
            v.model.to(dtype)
        crops = ctx.crops(dtype)
        runs = {v.name: forward_fn(v, crops) for v in variants}
        macs = {name: count_macs(fn) for name, fn in runs.items()}
        times = ctx.time(runs, f"{dtype_name} variants")
        base_ms, base_cpu = times.median_ms("baseline"), times.median_ms("baseline", cpu=True)
        base_min = times.min_ms("baseline")
        for v in variants:
            ms, cpu_ms = times.median_ms(v.name), times.median_ms(v.name, cpu=True)
            section.rows.append(
                {
                    "variant": v.name,
                    "dtype": dtype_name,
                    "layers": v.layers,
                    "tokens": v.tokens,
                    "median_ms": round(ms, 2),
                    "crops_per_s": round(batch / ms * 1000, 3),
                    "gmacs_per_crop": round(macs[v.name] / batch / 1e9, 2),
                    "speedup": round(base_ms / ms, 3),
                    "mac_ratio": round(macs["baseline"] / macs[v.name], 3),
                    "min_ms": round(times.min_ms(v.name), 2),
                    "min_speedup": round(base_min / times.min_ms(v.name), 3),
                    "cpu_ms": round(cpu_ms, 2),
                    "cpu_speedup": round(base_cpu / cpu_ms, 3),
                    "all_ms": times.all_ms(v.name),
                    "all_cpu_ms": [round(t * 1000, 2) for t in times.cpu[v.name]],
                }
            )
    for v in variants:
        v.model.to(torch.float32)
    return section


def block_scaling_section(ctx: BenchContext) -> Section:
    """One backbone block at each token count of the schedule: does time follow the token count?

    Token merging saves time only as far as a block's cost shrinks with its tokens; at batch 1 a
    CPU's matrix products lose efficiency as the token count drops, which this table shows.
    """
    section = Section(
        title=f"one backbone block vs token count, batch {ctx.settings.batch}, {ctx.device}",
        columns=["dtype", "tokens", "median_ms", "ms_per_token", "time_ratio", "token_ratio"],
    )
    block = ctx.baseline.backbone.blocks[0]
    grid = ctx.baseline.backbone.grid_size
    counts = schedule_token_counts(grid[0] * grid[1])
    width = ctx.baseline.config.backbone.embed_dim
    for dtype_name in ctx.dtypes:
        dtype = DTYPES[dtype_name]
        block.to(dtype)
        gen = torch.Generator().manual_seed(0)
        inputs = {
            n: torch.randn(ctx.settings.batch, n, width, generator=gen).to(ctx.device, dtype) for n in counts
        }

        def once(x: torch.Tensor) -> Callable[[], Any]:
            def run_block() -> Any:
                with torch.inference_mode():
                    return block(x)

            return run_block

        times = ctx.time({str(n): once(x) for n, x in inputs.items()}, f"{dtype_name} block")
        full = times.median_ms(str(counts[0]))
        for n in counts:
            ms = times.median_ms(str(n))
            section.rows.append(
                {
                    "dtype": dtype_name,
                    "tokens": n,
                    "median_ms": round(ms, 2),
                    "ms_per_token": round(ms / n, 4),
                    "time_ratio": round(full / ms, 3),
                    "token_ratio": round(counts[0] / n, 3),
                }
            )
        block.to(torch.float32)
    section.notes.append("time_ratio below token_ratio = the block gets less efficient with fewer tokens")
    return section
