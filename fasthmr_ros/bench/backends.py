"""Section `backends`: latency of one model under each runtime backend and precision.

Each variant's outputs are also compared with the first one's (the fp32 reference), so a fast
but wrong backend shows up in the same table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from fasthmr_ros.bench.context import BenchContext
from fasthmr_ros.bench.harness import Section, device_sync, interleaved_times, load_average
from fasthmr_ros.config import RuntimeConfig, to_dict
from fasthmr_ros.errors import FastHMRError, InputError
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


def runner_call(runner: Runner, crops: torch.Tensor, person_mask: torch.Tensor | None) -> Callable[[], Any]:
    """One zero-argument run of `runner` on fixed inputs, as `interleaved_times` takes it."""
    return lambda: runner(crops, person_mask=person_mask)


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

    sync = device_sync("cuda" if torch.cuda.is_available() else "cpu")
    times = interleaved_times(
        {str(i): runner_call(r, crops, mask) for i, (_, r, _) in enumerate(runners)},
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


@dataclass(frozen=True)
class SpeedPath:
    """One way to run the model on the CPU: which merging variant, through which backend, at
    which precision. `variant` names one of `BenchContext.variants()`."""

    variant: str
    backend: str
    precision: str

    @property
    def label(self) -> str:
        return f"{self.variant} {self.backend}/{self.precision}"


# HMR 2.0's own path first: every speed-up is relative to it.
REFERENCE_PATH = SpeedPath("baseline", "cpu", "fp32")
DEFAULT_CPU_PATHS = (
    REFERENCE_PATH,
    SpeedPath("ECLM+Mask-ToMe", "cpu", "fp32"),
    SpeedPath("ECLM+Mask-ToMe", "cpu", "bf16"),
    SpeedPath("ECLM+Mask-ToMe", "cpu", "int8"),
    SpeedPath("ECLM+Mask-ToMe", "onnxruntime", "fp32"),
    SpeedPath("ECLM+Mask-ToMe", "onnxruntime", "int8"),
)


def parse_paths(text: str | None) -> tuple[SpeedPath, ...]:
    """`variant:backend/precision,...` (e.g. `ECLM+Mask-ToMe:onnxruntime/int8`); the reference
    path is always measured first."""
    if not text:
        return DEFAULT_CPU_PATHS
    paths = [REFERENCE_PATH]
    for item in text.split(","):
        variant, _, rest = item.partition(":")
        backend, _, precision = rest.partition("/")
        if not (variant and backend and precision):
            raise InputError(f"--paths item {item!r} is not variant:backend/precision")
        if SpeedPath(variant, backend, precision) != REFERENCE_PATH:
            paths.append(SpeedPath(variant, backend, precision))
    return tuple(paths)


def _bf16_missing() -> str | None:
    """Why torch cannot run bf16 matrix products natively on this CPU, or None when it can."""
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    return "this CPU has no native bf16 (avx512_bf16 or AMX): it would be emulated"


def cpu_paths_section(ctx: BenchContext) -> Section:
    """Every CPU path, interleaved in one run per batch size: latency, crops/s, speed-up over HMR
    2.0's own path, and the joint deviation from fp32 torch of the same weights (the path's
    accuracy cost)."""
    from fasthmr_ros.models.default import resolve_body_model
    from fasthmr_ros.runtime.accuracy import joint_deviation_mm
    from fasthmr_ros.runtime.select import BackendChoice, build_runner

    s = ctx.settings
    section = Section(
        title=f"CPU paths, {ctx.model_name}, {torch.get_num_threads()} threads",
        columns=["path", "batch", "median_ms", "min_ms", "crops_per_s", "speedup", "min_speedup",
                 "cpu_speedup", "joint_dev_mm", "skipped"],
    )  # fmt: skip
    paths = parse_paths(s.paths)
    variants = {v.name: v for v in ctx.variants()}
    source = resolve_body_model(s.smpl, s.j19)
    body = source.body
    section.notes.append(f"joints through: {source.description}")
    runners: dict[SpeedPath, Runner] = {}
    for path in paths:
        if path.variant not in variants:
            raise InputError(f"unknown variant {path.variant!r}; choose from {list(variants)}")
        reason = _bf16_missing() if path.precision == "bf16" else None
        if reason is None:
            try:
                choice = BackendChoice(path.backend, "cpu", path.precision, "bench")
                runners[path] = build_runner(
                    choice, RuntimeConfig(device="cpu"), variants[path.variant].model
                )
            except (FastHMRError, RuntimeError) as exc:
                reason = str(exc)
        if reason is not None:
            section.rows.append({"path": path.label, "skipped": reason})
    batches = [int(b) for b in (s.batches or str(s.batch)).split(",")]
    deviations: dict[SpeedPath, float] = {}
    for batch in batches:
        crops = ctx.crops(batch=batch)
        masks = {v.name: v.person_mask for v in ctx.variants(batch)}
        outputs = {p: r(crops, person_mask=masks[p.variant]) for p, r in runners.items()}  # also warm-up
        if batch == max(batches):
            for p, out in outputs.items():
                same_weights = SpeedPath(p.variant, "cpu", "fp32")
                if same_weights in outputs:
                    deviations[p] = joint_deviation_mm(body, out, outputs[same_weights])
        runs = {p.label: runner_call(r, crops, masks[p.variant]) for p, r in runners.items()}
        repeats = max(3, s.repeats // batch)
        load = load_average()
        times = interleaved_times(runs, repeats, 0, ctx.sync, f"CPU paths, batch {batch}")
        ref, ref_min = times.median_ms(REFERENCE_PATH.label), times.min_ms(REFERENCE_PATH.label)
        ref_cpu = times.median_ms(REFERENCE_PATH.label, cpu=True)
        section.notes.append(
            f"batch {batch}: {repeats} rounds, load average before/after {load} / {load_average()}"
        )
        for p in runners:
            ms = times.median_ms(p.label)
            section.rows.append(
                {
                    "path": p.label,
                    "variant": p.variant,
                    "backend": p.backend,
                    "precision": p.precision,
                    "batch": batch,
                    "median_ms": round(ms, 3),
                    "min_ms": round(times.min_ms(p.label), 3),
                    "crops_per_s": round(batch * 1000 / ms, 3),
                    "speedup": round(ref / ms, 3),
                    "min_speedup": round(ref_min / times.min_ms(p.label), 3),
                    # CPU time of this process (all threads): what the path costs, waits excluded.
                    "cpu_ms": round(times.median_ms(p.label, cpu=True), 3),
                    "cpu_speedup": round(ref_cpu / times.median_ms(p.label, cpu=True), 3),
                    "samples_ms": times.all_ms(p.label),
                }
            )
    for row in section.rows:
        measured = next((p for p in runners if p.label == row["path"]), None)
        if measured in deviations:
            row["joint_dev_mm"] = round(deviations[measured], 3)
    section.notes.append(
        "joint_dev_mm: mean pelvis-aligned joint distance from fp32 torch of the same weights and merging "
        f"on the batch-{max(batches)} crops; speed-ups are against {REFERENCE_PATH.label} at the same batch"
    )
    return section
