"""`fasthmr bench`: what layer and token merging buy, measured in one run.

The report is a list of sections; each is a function `(BenchContext) -> Section` returning rows
of plain values, printed as a table and saved under its name in the JSON file. To add a section,
write such a function and append it to `SECTIONS`.

Timing: variants run interleaved (baseline, +ECLM, +Mask-ToMe, both, then again) so a slow
moment of a shared machine hits all of them alike; figures are medians over the repeats.
MACs come from `torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2), with CPU
attention counted too (torch does not count its CPU flash-attention kernel by itself).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.errors import InputError

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="vit_h", help="architecture preset when no --checkpoint is given")
    parser.add_argument("--checkpoint", help="unmerged checkpoint to time (default: random weights)")
    parser.add_argument("--merged", help="ECLM-merged checkpoint (default: a 32->28 style plan, see docs)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--batch", type=int, default=1, help="crops per forward pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (interleaved)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per variant first")
    parser.add_argument("--dtypes", help="comma list of fp32,fp16,bf16 (default: fp32 on CPU, all on CUDA)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--sections", help=f"comma list of {section_names()} (default: all but {list(OPT_IN_SECTIONS)})"
    )
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl for the pipeline section (default: found/stand-in)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl for the pipeline section")
    parser.add_argument("--json", help="write the results here")


@dataclass
class Section:
    """One table of the report."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Variant:
    name: str
    model: nn.Module
    person_mask: torch.Tensor | None
    layers: int
    tokens: int


def default_eclm_plan(depth: int) -> list[list[int]]:
    """HMR 2.0-like 32 -> 28: merge the top depth/8 pairs of blocks (ECLM merges late layers)."""
    pairs = max(1, depth // 8)
    return [[depth - 2 * k - 2, depth - 2 * k - 1] for k in reversed(range(pairs))]


def merged_view(model: nn.Module, plan: list[list[int]]) -> nn.Module:
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


def person_mask_for_bench(batch: int, cfg: Any) -> torch.Tensor:
    """A standing person: an ellipse over 40% of the crop (the real mask source does not change timing)."""
    import cv2

    from fasthmr_ros.merging.masks import patch_labels

    crop = np.zeros((256, 256), np.float32)
    cv2.ellipse(crop, (128, 128), (52, 122), 0, 0, 360, 1.0, -1)
    labels = patch_labels(torch.from_numpy(crop)[None], cfg.backbone, MergingConfig().mask_threshold)
    return labels.expand(batch, -1).clone()


class BenchContext:
    """Settings plus the shared, lazily built objects every section may use."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device(args.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda given but torch sees no CUDA GPU")
        if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
            raise InputError("--batch and --repeats must be >= 1, --warmup >= 0")
        default = ["fp32"] if self.device.type == "cpu" else list(DTYPES)
        names = args.dtypes.split(",") if args.dtypes else default
        unknown = [n for n in names if n not in DTYPES]
        if unknown:
            raise InputError(f"unknown dtypes {unknown}; choose from {list(DTYPES)}")
        self.dtypes = names

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @cached_property
    def baseline(self) -> nn.Module:
        from fasthmr_ros.models.checkpoint import load_model
        from fasthmr_ros.models.hmr import HMR

        if self.args.checkpoint:
            return load_model(self.args.checkpoint, device=self.device)
        log.info("building %s with random weights (timing does not depend on them)", self.args.model)
        try:
            cfg = model_preset(self.args.model)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        return HMR(cfg).eval().to(self.device)

    @cached_property
    def eclm(self) -> tuple[nn.Module, str]:
        from fasthmr_ros.models.checkpoint import load_model

        if self.args.merged:
            model = load_model(self.args.merged, device=self.device)
            return model, f"{self.args.merged}: plan {model.config.merge_plan}"
        plan = default_eclm_plan(self.baseline.config.backbone.depth)
        return merged_view(self.baseline, plan), f"default plan {plan} (no --merged given)"

    def variants(self) -> list[Variant]:
        """baseline, +ECLM, +Mask-ToMe, both; Mask-ToMe copies share weights with their base."""
        batch = self.args.batch
        base = self.baseline
        eclm, _ = self.eclm
        merging = MergingConfig()
        out = []
        for name, model, tome in (
            ("baseline", base, False),
            ("+ECLM", eclm, False),
            ("+Mask-ToMe", base, True),
            ("ECLM+Mask-ToMe", eclm, True),
        ):
            mask = None
            if tome:
                model = copy.copy(model)
                model._modules = dict(model._modules)
                model.backbone = copy.copy(model.backbone)
                schedule = model.set_token_merging(merging)
                mask = person_mask_for_bench(batch, model.config).to(self.device)
            tokens = model.backbone.grid_size[0] * model.backbone.grid_size[1]
            if tome:
                tokens = schedule.final_tokens(tokens)
            out.append(Variant(name, model, mask, len(model.backbone.blocks), tokens))
        return out

    def crops(self, dtype: torch.dtype) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(self.args.batch, 3, 256, 256, generator=gen).to(self.device, dtype)


def count_macs(fn: Callable[[], Any]) -> float:
    """MACs of one call (FLOPs / 2), CPU flash attention included."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return sdpa_flop_count(query, key, value)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops() / 2


@dataclass
class Timings:
    """Seconds per call: wall clock, and CPU time of this process (all its threads).

    On a shared machine the wall clock includes waiting for a core; the CPU time does not, so
    comparing both tells contention from real cost.
    """

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    def median_ms(self, name: str, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[name]) * 1000

    def min_ms(self, name: str) -> float:
        """The least-disturbed run: on a busy machine closer to the real cost than the median."""
        return min(self.wall[name]) * 1000


def interleaved_times(ctx: BenchContext, runs: dict[str, Callable[[], Any]], desc: str) -> Timings:
    """Time each run, alternating between runs every repeat."""
    for _ in range(ctx.args.warmup):
        for fn in runs.values():
            fn()
    ctx.sync()
    timings = Timings({name: [] for name in runs}, {name: [] for name in runs})
    for _ in tqdm(range(ctx.args.repeats), desc=desc, unit="round", leave=False):
        for name, fn in runs.items():
            ctx.sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            ctx.sync()
            timings.wall[name].append(time.perf_counter() - start)
            timings.cpu[name].append(time.process_time() - start_cpu)
    return timings


def _forward(v: Variant, crops: torch.Tensor) -> Callable[[], Any]:
    def run_once() -> Any:
        with torch.inference_mode():
            return v.model(crops, person_mask=v.person_mask)

    return run_once


def variants_section(ctx: BenchContext) -> Section:
    """Encoder + SMPL head of each variant: latency, throughput, MACs, speed-ups."""
    batch = ctx.args.batch
    section = Section(
        title=f"encoder+head, {ctx.args.model if not ctx.args.checkpoint else ctx.args.checkpoint}, "
        f"batch {batch}, {ctx.device}",
        columns=[
            "variant",
            "dtype",
            "layers",
            "tokens",
            "median_ms",
            "crops_per_s",
            "gmacs_per_crop",
            "speedup",
            "mac_ratio",
            "min_ms",
            "min_speedup",
        ],
    )
    if ctx.device.type == "cpu":
        section.columns += ["cpu_ms", "cpu_speedup"]
    section.notes.append(f"ECLM: {ctx.eclm[1]}")
    schedule = list(MergingConfig().token_schedule)
    section.notes.append(f"Mask-ToMe: schedule {schedule}, elliptical person mask")
    variants = ctx.variants()
    for dtype_name in ctx.dtypes:
        dtype = DTYPES[dtype_name]
        for v in variants:
            v.model.to(dtype)
        crops = ctx.crops(dtype)

        runs = {v.name: _forward(v, crops) for v in variants}
        macs = {name: count_macs(fn) for name, fn in runs.items()}
        times = interleaved_times(ctx, runs, f"{dtype_name} variants")
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
                    "all_ms": [round(t * 1000, 2) for t in times.wall[v.name]],
                    "all_cpu_ms": [round(t * 1000, 2) for t in times.cpu[v.name]],
                }
            )
    for v in variants:
        v.model.to(torch.float32)
    return section


def pipeline_section(ctx: BenchContext) -> Section:
    """One 640x480 image, one person: crop, person mask, model, SMPL + camera, per stage."""
    section = Section(
        title=f"single-image pipeline (one person, 640x480), {ctx.device}, fp32",
        columns=["variant", "crop_ms", "mask_ms", "model_ms", "smpl_ms", "total_ms", "fps", "speedup"],
    )
    try:
        from fasthmr_ros.models.default import resolve_body_model

        body = resolve_body_model(ctx.args.smpl, ctx.args.j19)
    except Exception as exc:  # a missing SMPL/stand-in must not sink the other sections
        section.notes.append(f"skipped: no body model ({type(exc).__name__}: {exc})")
        return section
    section.notes.append(f"body model: {body.description}")
    import cv2

    from fasthmr_ros.merging.masks import CropMaskInput, person_patch_mask
    from fasthmr_ros.pipeline.camera import default_intrinsics
    from fasthmr_ros.pipeline.estimator import MeshEstimator

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[250.0, 60.0, 390.0, 420.0]])
    camera = default_intrinsics(640, 480)
    merging = MergingConfig(mask_source="box")
    chosen = [v for v in ctx.variants() if v.name in ("baseline", "ECLM+Mask-ToMe")]
    stages: dict[str, dict[str, list[float]]] = {v.name: {} for v in chosen}

    def run_pipeline(v: Variant) -> Callable[[], None]:
        estimator = MeshEstimator(v.model, body.body, device=ctx.device)

        def once() -> None:
            marks = [time.perf_counter()]
            batch = estimator.prepare(image, boxes)
            marks.append(time.perf_counter())
            kwargs = {}
            if v.person_mask is not None:
                affines = [cv2.invertAffineTransform(m) for m in batch.crop_to_image()]
                items = [CropMaskInput(a, b) for a, b in zip(affines, batch.boxes, strict=True)]
                mask = person_patch_mask(items, merging, v.model.config.backbone)
                kwargs["person_mask"] = mask.to(ctx.device)
            marks.append(time.perf_counter())
            outputs = estimator.infer(batch, camera, **kwargs)
            ctx.sync()
            marks.append(time.perf_counter())
            estimator.to_persons(outputs, batch, camera)
            ctx.sync()
            marks.append(time.perf_counter())
            spans = itertools.pairwise(marks)
            for stage, (a, b) in zip(("crop", "mask", "model", "smpl"), spans, strict=True):
                stages[v.name].setdefault(stage, []).append(b - a)

        return once

    runs = {v.name: run_pipeline(v) for v in chosen}
    times = interleaved_times(ctx, runs, "pipeline")
    base_total = times.median_ms("baseline")
    for v in chosen:
        per = {k: statistics.median(vals[-ctx.args.repeats :]) * 1000 for k, vals in stages[v.name].items()}
        total = times.median_ms(v.name)
        section.rows.append(
            {
                "variant": v.name,
                **{f"{k}_ms": round(val, 2) for k, val in per.items()},
                "total_ms": round(total, 2),
                "fps": round(1000 / total, 3),
                "speedup": round(base_total / total, 3),
            }
        )
    return section


def block_scaling_section(ctx: BenchContext) -> Section:
    """One backbone block at each token count of the schedule: does time follow the token count?

    Token merging saves time only as far as a block's cost shrinks with its tokens; at batch 1 a
    CPU's matrix products lose efficiency as the token count drops, which this table shows.
    """
    section = Section(
        title=f"one backbone block vs token count, batch {ctx.args.batch}, {ctx.device}",
        columns=["dtype", "tokens", "median_ms", "ms_per_token", "time_ratio", "token_ratio"],
    )
    block = ctx.baseline.backbone.blocks[0]
    grid = ctx.baseline.backbone.grid_size
    counts = schedule_token_counts(grid[0] * grid[1])
    for dtype_name in ctx.dtypes:
        dtype = DTYPES[dtype_name]
        block.to(dtype)
        gen = torch.Generator().manual_seed(0)
        width = ctx.baseline.config.backbone.embed_dim
        inputs = {n: torch.randn(ctx.args.batch, n, width, generator=gen) for n in counts}
        inputs = {n: x.to(ctx.device, dtype) for n, x in inputs.items()}

        def once(x: torch.Tensor) -> Callable[[], Any]:
            def run_block() -> Any:
                with torch.inference_mode():
                    return block(x)

            return run_block

        times = interleaved_times(ctx, {str(n): once(x) for n, x in inputs.items()}, f"{dtype_name} block")
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


def schedule_token_counts(num_tokens: int) -> list[int]:
    """Token counts the default Mask-ToMe schedule passes through (192, 152, 112, 90)."""
    from fasthmr_ros.merging.schedule import TokenSchedule

    return TokenSchedule(tuple(MergingConfig().token_schedule)).token_counts(num_tokens)


def split_section(ctx: BenchContext) -> Section:
    """Per-frame work around the model at 1280x720 (decode, crop, tracking, SMPL, messages)."""
    from fasthmr_ros.pipeline.bench_split import measure_split

    report = measure_split(repeats=max(ctx.args.repeats, 10))
    section = Section(
        title="non-model work per frame, 1280x720 (model excluded)",
        columns=["persons", "image_decode_ms", "crop_ms", "track_ms", "smpl_ms", "message_build_ms",
                 "serialise_cdr_ms", "total_ms", "total_min_ms", "target_ms", "meets_target"],
    )  # fmt: skip
    for count, entry in report["persons"].items():
        section.rows.append({"persons": count, **entry})
    section.notes.append(f"load average during the run: {report['load_average_1min']}")
    return section


def decoders_section(ctx: BenchContext) -> Section:
    """Per-frame cost of the pose decoders that replace the regression head's pose."""
    from fasthmr_ros.decoders.diffusion.cost import measure_cost as diffusion_cost
    from fasthmr_ros.decoders.genhmr.cost import measure_cost as genhmr_cost

    device = str(ctx.device)
    section = Section(
        title=f"pose decoders per frame and person, {device}",
        columns=["decoder", "stage", "latency_ms", "gmacs"],
    )
    diff = diffusion_cost(device=device, repeats=ctx.args.repeats, preset="paper")
    section.rows.append(
        {
            "decoder": "diffusion (paper size)",
            "stage": f"{diff['sample_steps']}-step denoise",
            "latency_ms": round(diff["latency_ms_median"], 2),
            "gmacs": round(diff["gmacs"], 3),
        }
    )
    tokens = schedule_token_counts(192)[-1]
    gen = genhmr_cost(device=device, repeats=ctx.args.repeats, num_image_tokens=tokens)
    for stage in ("sampling", "refinement"):
        section.rows.append({"decoder": f"genhmr ({tokens} image tokens)", "stage": stage,
                             "latency_ms": round(gen[stage]["latency_ms_per_frame"], 2),
                             "gmacs": round(gen[stage]["gmacs_per_frame"], 3)})  # fmt: skip
    return section


def backends_section(ctx: BenchContext) -> Section:
    """The same model through each runtime backend available here (exports ONNX once, cached)."""
    from fasthmr_ros.runtime.measure import measure_backends

    report = measure_backends(ctx.baseline, batch=ctx.args.batch, repeats=ctx.args.repeats)
    section = Section(
        title=f"runtime backends, {ctx.args.model}, batch {ctx.args.batch}",
        columns=["variant", "backend", "precision", "device", "median_ms", "crops_per_s",
                 "max_abs_diff_vs_first", "skipped"],
    )  # fmt: skip
    section.rows.extend(report["results"])
    return section


SECTIONS: list[tuple[str, Callable[[BenchContext], Section]]] = [
    ("variants", variants_section),
    ("block_scaling", block_scaling_section),
    ("pipeline", pipeline_section),
    ("split", split_section),
    ("decoders", decoders_section),
    ("backends", backends_section),
]
# Exporting a full-size model to ONNX takes minutes and gigabytes: only on request.
OPT_IN_SECTIONS = ("backends",)


def section_names() -> list[str]:
    return [name for name, _ in SECTIONS]


def format_table(section: Section) -> str:
    """Fixed-width text table of a section's rows (list-valued cells are left to the JSON)."""
    cells = [[str(row.get(c, "")) for c in section.columns] for row in section.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(section.columns)]
    lines = [f"== {section.title}"]
    lines.append("  ".join(c.ljust(w) for c, w in zip(section.columns, widths, strict=True)))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    lines.extend(f"   {note}" for note in section.notes)
    return "\n".join(lines)


def environment(ctx: BenchContext) -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "device": str(ctx.device),
    }
    if hasattr(os, "getloadavg"):
        env["load_average_1_5_15min"] = [round(v, 2) for v in os.getloadavg()]
    if ctx.device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(ctx.device)
    return env


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = BenchContext(args)
    default = [n for n in section_names() if n not in OPT_IN_SECTIONS]
    wanted = args.sections.split(",") if args.sections else default
    unknown = sorted(set(wanted) - set(section_names()))
    if unknown:
        raise InputError(f"unknown sections {unknown}; choose from {section_names()}")
    results: dict[str, Section] = {}
    for name, fn in SECTIONS:
        if name in wanted:
            results[name] = fn(ctx)
            print(format_table(results[name]), flush=True)
    if hasattr(os, "getloadavg"):
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}; cores: {os.cpu_count()}")
    if args.json:
        payload = {
            "command": " ".join(["fasthmr", *sys.argv[1:]]),
            "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
            "environment": environment(ctx),
            "sections": {name: vars(section) for name, section in results.items()},
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0
