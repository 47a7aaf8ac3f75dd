"""Section `backends`: latency of one model under each runtime backend and precision.

Each variant's outputs are also compared with the first one's (the fp32 reference), so a fast
but wrong backend shows up in the same table.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from fasthmr_ros.bench.context import BenchContext
from fasthmr_ros.bench.harness import Section, device_sync, interleaved_times
from fasthmr_ros.config import RuntimeConfig, to_dict
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import Runner
from fasthmr_ros.runtime.onnx_export import token_schedule_of
from fasthmr_ros.runtime.select import Capabilities, create_runner, probe_capabilities

log = logging.getLogger(__name__)

# Outputs compared between backends (image tokens differ in order of magnitude per model size).
COMPARED_OUTPUTS = ("pose_6d", "betas", "pred_cam")


def default_variants(caps: Capabilities, base: RuntimeConfig | None = None) -> list[RuntimeConfig]:
    """torch and onnxruntime on the CPU; on a GPU torch at every precision (and with CUDA graphs),
    onnxruntime's CUDA provider when installed, and TensorRT fp32/fp16 when usable."""
    base = base or RuntimeConfig()
    if caps.gpu_name is None:
        return [
            replace(base, backend="cpu", precision="fp32"),
            replace(base, backend="onnxruntime", device="cpu", precision="fp32"),
        ]
    gpu = replace(base, device="cuda")
    variants = [replace(gpu, backend="torch", precision=p) for p in ("fp32", "fp16", "bf16")]
    variants.append(replace(gpu, backend="torch", precision="fp16", cuda_graphs=True))
    if caps.ort_cuda:
        variants.append(replace(gpu, backend="onnxruntime", precision="fp32"))
    if caps.tensorrt_version:
        variants += [replace(gpu, backend="tensorrt", precision=p) for p in ("fp32", "fp16")]
    return variants


def _label(cfg: RuntimeConfig, precision: str | None = None) -> str:
    """backend/precision actually run (the asked-for one when the variant was skipped)."""
    extras = "+cuda_graphs" if cfg.cuda_graphs and cfg.device.startswith("cuda") else ""
    extras += "+compile" if cfg.compile else ""
    return f"{cfg.backend}/{precision or cfg.precision}{extras}"


def box_person_mask(batch: int, rows: int = 16, cols: int = 12) -> torch.Tensor:
    """A centred person box covering the middle half of the patch grid: a typical detection crop."""
    grid = torch.zeros(batch, rows, cols)
    grid[:, rows // 8 : rows - rows // 8, cols // 4 : cols - cols // 4] = 1.0
    return grid.flatten(1)


def measure_backends(
    model: HMR,
    variants: list[RuntimeConfig] | None = None,
    batch: int = 1,
    repeats: int = 5,
    warmup: int = 1,
    caps: Capabilities | None = None,
) -> dict[str, Any]:
    """Median latency (ms) and throughput (crops/s) of `model` per backend variant.

    A variant that cannot run here is reported with its reason instead of stopping the others.
    """
    caps = caps or probe_capabilities()
    variants = variants or default_variants(caps)
    runners: list[tuple[RuntimeConfig, Runner, str]] = []
    results: list[dict[str, Any]] = []
    for cfg in variants:
        try:
            runner, choice = create_runner(replace(cfg, batch=batch), model, caps)
            runners.append((cfg, runner, choice.reason))
        except (FastHMRError, RuntimeError) as exc:
            results.append({"variant": _label(cfg), "skipped": str(exc)})
    gen = torch.Generator().manual_seed(0)
    crops = torch.randn(batch, 3, 256, 256, generator=gen)
    mask = box_person_mask(batch, *model.backbone.grid_size)
    outputs: dict[int, dict[str, np.ndarray]] = {}
    for i, (_, runner, _) in enumerate(runners):
        outputs[i] = {k: np.asarray(v.cpu()) for k, v in runner(crops, person_mask=mask).items()}

    def call(runner: Runner) -> Any:
        return lambda: runner(crops, person_mask=mask)

    sync = device_sync("cuda" if torch.cuda.is_available() else "cpu")
    times = interleaved_times(
        {str(i): call(r) for i, (_, r, _) in enumerate(runners)},
        repeats,
        max(0, warmup - 1),
        sync,
        "backends",
    )
    reference = outputs.get(0)
    for i, (cfg, runner, reason) in enumerate(runners):
        median = times.median_ms(str(i))
        entry = {
            "variant": _label(cfg, runner.precision),
            "backend": runner.name,
            "precision": runner.precision,
            "device": runner.device,
            "reason": reason,
            "median_ms": round(median, 3),
            "min_ms": round(times.min_ms(str(i)), 3),
            "crops_per_s": round(batch * 1000 / median, 3),
            "samples_ms": times.all_ms(str(i)),
        }
        if reference is not None:
            entry["max_abs_diff_vs_first"] = max(
                float(np.abs(outputs[i][k] - reference[k]).max()) for k in COMPARED_OUTPUTS
            )
        results.append(entry)
    return {
        "model": model.config.preset,
        "backbone_depth": len(model.backbone.blocks),
        "token_schedule": list(token_schedule_of(model)),
        "batch": batch,
        "repeats": repeats,
        "warmup": warmup,
        "gpu": caps.gpu_name,
        "cpu_threads": torch.get_num_threads(),
        "runtime_defaults": to_dict(RuntimeConfig()),
        "results": results,
    }


def backends_section(ctx: BenchContext) -> Section:
    """The same model through each runtime backend available here (exports ONNX once, cached)."""
    s = ctx.settings
    report = measure_backends(ctx.baseline, batch=s.batch, repeats=s.repeats, warmup=s.warmup)
    section = Section(
        title=f"runtime backends, {ctx.model_name}, batch {s.batch}",
        columns=["variant", "backend", "precision", "device", "median_ms", "crops_per_s",
                 "max_abs_diff_vs_first", "skipped"],
    )  # fmt: skip
    section.rows.extend(report["results"])
    return section
