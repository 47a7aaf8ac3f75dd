"""Latency of one model under each backend and precision, for `fasthmr bench`.

Variants run interleaved (one call of each per round), so a machine that slows down part-way
(thermal limits, other processes) slows every variant alike; the figure is the median per variant.
Each variant's outputs are also compared with the first one's (the fp32 reference), so a fast
but wrong backend shows up in the same table.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

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


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


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
    samples: dict[int, list[float]] = {i: [] for i in range(len(runners))}
    outputs: dict[int, dict[str, np.ndarray]] = {}
    for i, (_, runner, _) in enumerate(runners):
        for _ in range(warmup):
            outputs[i] = {k: np.asarray(v.cpu()) for k, v in runner(crops, person_mask=mask).items()}
    for _ in tqdm(range(repeats), desc="backend timing rounds", unit="round"):
        for i, (_, runner, _) in enumerate(runners):
            _sync()
            start = time.perf_counter()
            runner(crops, person_mask=mask)
            _sync()
            samples[i].append((time.perf_counter() - start) * 1000)
    reference = outputs.get(0)
    for i, (cfg, runner, reason) in enumerate(runners):
        median = statistics.median(samples[i])
        entry = {
            "variant": _label(cfg, runner.precision),
            "backend": runner.name,
            "precision": runner.precision,
            "device": runner.device,
            "reason": reason,
            "median_ms": round(median, 3),
            "min_ms": round(min(samples[i]), 3),
            "crops_per_s": round(batch * 1000 / median, 3),
            "samples_ms": [round(s, 3) for s in samples[i]],
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


def main(argv: list[str] | None = None) -> int:
    """`python -m fasthmr_ros.runtime.measure --model vit_h`: random weights, timing only."""
    from fasthmr_ros.config import MergingConfig, model_preset

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="vit_h", help="architecture preset (random weights)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--token-schedule", default="", help="Mask-ToMe schedule, e.g. 40,40,22 (default none)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(name)s: %(message)s")
    torch.manual_seed(0)
    model = HMR(model_preset(args.model)).eval()
    if args.token_schedule:
        schedule = [int(r) for r in args.token_schedule.split(",")]
        model.set_token_merging(MergingConfig(token_schedule=schedule))
    report = measure_backends(model, batch=args.batch, repeats=args.repeats, warmup=args.warmup)
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    for r in report["results"]:
        if "skipped" in r:
            print(f"{r['variant']:<28} skipped: {r['skipped']}")
        else:
            print(
                f"{r['variant']:<28} {r['median_ms']:>10.1f} ms  {r['crops_per_s']:>8.2f} crops/s  "
                f"max|diff| {r.get('max_abs_diff_vs_first', 0):.2e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
