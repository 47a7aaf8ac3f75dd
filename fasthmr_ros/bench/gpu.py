"""Sections for a CUDA GPU: `cuda_precision` (what fp16/bf16 cost in accuracy against CPU fp32 on
the same weights) and `cuda_paths` (merging variants x eager / CUDA graphs / torch.compile x
batch sizes, against HMR 2.0's own path: eager fp32, unmerged)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

from fasthmr_ros.bench.context import BenchContext
from fasthmr_ros.bench.harness import Section, interleaved_times, load_average
from fasthmr_ros.errors import InputError

log = logging.getLogger(__name__)

# (label, precision, cuda_graphs, compile); the first is the reference of every speed-up.
CUDA_MODES = (
    ("eager", "fp32", False, False),
    ("eager", "fp16", False, False),
    ("eager", "bf16", False, False),
    ("cuda_graphs", "fp16", True, False),
    ("compile", "fp16", False, True),
)
# torch.compile takes about a minute per model and batch: only these variants get it.
COMPILED_VARIANTS = ("baseline", "ECLM+Mask-ToMe")


def _needs_cuda(ctx: BenchContext) -> None:
    if ctx.device.type != "cuda":
        raise InputError("the cuda_* sections need --device cuda")


def cuda_precision_section(ctx: BenchContext) -> Section:
    """Each merging variant at fp32/fp16/bf16 on the GPU against fp32 on the CPU, same weights."""
    from fasthmr_ros.models.default import resolve_body_model
    from fasthmr_ros.runtime.accuracy import joint_deviation_mm
    from fasthmr_ros.runtime.torch_backend import TorchRunner

    _needs_cuda(ctx)
    body = resolve_body_model(ctx.settings.smpl, ctx.settings.j19).body
    section = Section(
        title=f"CUDA precision vs CPU fp32, {ctx.model_name}, {torch.cuda.get_device_name(ctx.device)}",
        columns=["variant", "precision", "max_abs_pose_6d", "max_abs_pred_cam", "joint_dev_mm"],
    )
    batch = 4
    crops = ctx.crops(batch=batch).cpu()
    for v in ctx.variants(batch):
        mask = None if v.person_mask is None else v.person_mask.cpu()
        v.model.to("cpu")
        reference = TorchRunner(v.model, "cpu", "fp32")(crops, person_mask=mask)
        for precision in ("fp32", "fp16", "bf16"):
            out = TorchRunner(v.model, str(ctx.device), precision)(crops, person_mask=mask)
            out = {k: t.cpu() for k, t in out.items()}
            section.rows.append(
                {
                    "variant": v.name,
                    "precision": precision,
                    "max_abs_pose_6d": float((out["pose_6d"] - reference["pose_6d"]).abs().max()),
                    "max_abs_pred_cam": float((out["pred_cam"] - reference["pred_cam"]).abs().max()),
                    "joint_dev_mm": round(joint_deviation_mm(body, out, reference), 3),
                }
            )
        v.model.to(ctx.device)
    section.notes.append(
        f"{batch} seeded random crops; joints through {type(body).__name__} ({body.joint_set})"
    )
    return section


def cuda_paths_section(ctx: BenchContext) -> Section:
    """Latency and crops/s per variant and mode, interleaved per batch size."""
    from fasthmr_ros.bench.backends import runner_call
    from fasthmr_ros.runtime.torch_backend import TorchRunner

    _needs_cuda(ctx)
    batches = [int(b) for b in (ctx.settings.batches or "1,8").split(",")]
    section = Section(
        title=f"CUDA paths, {ctx.model_name}, {torch.cuda.get_device_name(ctx.device)}",
        columns=["variant", "mode", "precision", "batch", "median_ms", "crops_per_s", "speedup", "skipped"],
    )
    for batch in batches:
        crops = ctx.crops(batch=batch)
        runs: dict[str, Callable[[], Any]] = {}
        labels: dict[str, tuple[str, str, str]] = {}
        for v in ctx.variants(batch):
            for mode, precision, graphs, compiled in CUDA_MODES:
                if compiled and v.name not in COMPILED_VARIANTS:
                    continue
                label = f"{v.name} {mode} {precision} b{batch}"
                try:
                    runner = TorchRunner(
                        v.model, str(ctx.device), precision, compile=compiled, cuda_graphs=graphs, batch=batch
                    )
                    runner(crops, person_mask=v.person_mask)  # compile / capture happen here, untimed
                except Exception as exc:  # one failing mode must not sink the table
                    log.warning("%s skipped: %s", label, exc)
                    reason = f"{type(exc).__name__}: {exc}"
                    section.rows.append({"variant": v.name, "mode": mode, "precision": precision,
                                         "batch": batch, "skipped": reason})  # fmt: skip
                    continue
                runs[label] = runner_call(runner, crops, v.person_mask)
                labels[label] = (v.name, mode, precision)
        times = interleaved_times(runs, ctx.settings.repeats, ctx.settings.warmup, ctx.sync, f"CUDA b{batch}")
        reference = times.median_ms(f"baseline eager fp32 b{batch}")
        for label, (variant, mode, precision) in labels.items():
            ms = times.median_ms(label)
            section.rows.append(
                {
                    "variant": variant,
                    "mode": mode,
                    "precision": precision,
                    "batch": batch,
                    "median_ms": round(ms, 3),
                    "min_ms": round(times.min_ms(label), 3),
                    "crops_per_s": round(batch * 1000 / ms, 1),
                    "speedup": round(reference / ms, 3),
                    "samples_ms": times.all_ms(label),
                }
            )
    section.notes.append(f"speed-ups against baseline eager fp32 at the same batch; load {load_average()}")
    return section
