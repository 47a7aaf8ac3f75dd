"""FastHMR's Table 1 rows and Mask-ToMe ablations in miniature, on the synthetic world (SYNTHETIC).

    .venv/bin/python scripts/accuracy_tables.py --out docs/results/accuracy

One run: generates a held-out set (stills + clips) and a calibration split, runs `fasthmr merge`
at the stated tau on the calibration split, then evaluates every variant through the pipeline
(`fasthmr_ros.evaluation`) on the same held-out data, and times the variants' network forward
side by side, interleaved (one crop, round robin), with their MACs. Writes tables.json, two
plots and prints the Markdown tables of the README.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from fasthmr_ros.bench.harness import count_macs
from fasthmr_ros.cli.main import main as fasthmr
from fasthmr_ros.config import MergingConfig
from fasthmr_ros.evaluation import accuracy, evaluation_pipeline, mean_pose_of, run_pipeline
from fasthmr_ros.models.checkpoint import load_model
from fasthmr_ros.models.default import EMBEDDED_WEIGHTS
from fasthmr_ros.samples.dataset import is_labelled_set, read_labelled_set

TOKENS = 192
PAPER_SCHEDULE = [40, 40, 22]  # 192 -> 152 -> 112 -> 90


def per_layer_schedule(r: int, layers: int = 3) -> list[int]:
    """Merge r tokens in each of the first `layers` blocks, capped by the bipartite limit."""
    out, tokens = [], TOKENS
    for _ in range(layers):
        step = min(r, tokens // 2)
        out.append(step)
        tokens -= step
    return out


def ensure_set(path: Path, *flags: str) -> None:
    if not is_labelled_set(path):
        assert fasthmr(["synth", str(path), *flags]) == 0


def evaluate(dataset: Any, checkpoint: str, merging: MergingConfig | None) -> dict[str, Any]:
    pipeline = evaluation_pipeline(checkpoint, merging=merging)
    estimates = run_pipeline(pipeline, dataset)
    report = accuracy(estimates, dataset, pipeline.estimator.body, mean_pose_of(pipeline.estimator.model))
    keep = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm", "mean_pose_mpjpe_mm", "persons", "missed")
    return {
        k: round(report[k], 2) if isinstance(report[k], float) else report[k] for k in keep if k in report
    }


def cost(variants: dict[str, tuple[str, list[int]]], rounds: int) -> dict[str, dict[str, float]]:
    """MACs per crop and the median forward time of one crop, interleaved across variants."""
    crop = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    models = {}
    for name, (checkpoint, schedule) in variants.items():
        model = load_model(checkpoint)
        model.set_token_merging(MergingConfig(token_schedule=schedule) if schedule else None)
        grid = model.backbone.grid_size
        mask = torch.zeros(1, grid[0] * grid[1], dtype=torch.bool)
        mask.view(1, *grid)[:, 2:-2, 3:-3] = True  # a standing person in the middle of the crop
        models[name] = (model, mask)
    times: dict[str, list[float]] = {name: [] for name in variants}
    macs = {}
    with torch.inference_mode():
        for name, (model, mask) in models.items():
            macs[name] = count_macs(lambda m=model, k=mask: m(crop, person_mask=k))
            model(crop, person_mask=mask)  # warm-up
        for _ in range(rounds):
            for name, (model, mask) in models.items():
                start = time.perf_counter()
                model(crop, person_mask=mask)
                times[name].append((time.perf_counter() - start) * 1e3)
    base = statistics.median(times[next(iter(variants))])
    return {
        name: {
            "gmacs_per_crop": round(macs[name] / 1e9, 4),
            "forward_ms_median": round(statistics.median(times[name]), 3),
            "speedup": round(base / statistics.median(times[name]), 3),
        }
        for name in variants
    }


def plot(rows: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4), dpi=120)
    width = 0.27
    for i, (key, label) in enumerate((("mpjpe_mm", "MPJPE"), ("pa_mpjpe_mm", "PA-MPJPE"), ("pve_mm", "PVE"))):
        ax.bar(
            [x + (i - 1) * width for x in range(len(names))],
            [rows[n][key] for n in names],
            width,
            label=label,
        )
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("error (mm)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(rows: dict[str, dict[str, Any]], columns: list[str]) -> str:
    lines = ["| variant | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    held_out, calib = work / "held_out", work / "calib"
    frames = str(args.frames)
    ensure_set(
        held_out, "--images", str(args.images), "--clips", str(args.clips), "--frames", frames, "--seed", "7"
    )
    ensure_set(calib, "--images", str(args.calib_images), "--seed", "3")
    merged = work / "eclm.pt"
    weights = str(args.weights)
    merge_args = ["merge", "--checkpoint", weights, "--calib", str(calib), "--tau", str(args.tau)]
    assert fasthmr([*merge_args, "--limit", "128", "--out", str(merged), "--report", str(out / "eclm.json"),
                    "--plot", str(out / "eclm.png")]) == 0  # fmt: skip
    dataset = read_labelled_set(held_out)
    paper = MergingConfig(token_schedule=PAPER_SCHEDULE, mask_source="segmentation")
    table1 = {
        "baseline": (weights, None),
        "+ECLM": (str(merged), None),
        "+Mask-ToMe": (weights, paper),
        "+ECLM+Mask-ToMe": (str(merged), paper),
    }
    rows = {name: evaluate(dataset, ckpt, merging) for name, (ckpt, merging) in table1.items()}
    speed = cost({n: (c, m.token_schedule if m else []) for n, (c, m) in table1.items()}, args.rounds)
    for name in rows:
        layers = load_model(table1[name][0]).config.backbone.depth
        schedule = table1[name][1].token_schedule if table1[name][1] else []
        rows[name].update(layers=layers, tokens=TOKENS - sum(schedule), **speed[name])
    ablation = {}
    for r in (10, 40, 60, 100):
        schedule = per_layer_schedule(r)
        merging = MergingConfig(token_schedule=schedule, mask_source="segmentation")
        ablation[f"r={r} per layer"] = {"schedule": schedule, **evaluate(dataset, weights, merging)}
    for source in ("box", "segmentation", "none"):
        merging = MergingConfig(token_schedule=PAPER_SCHEDULE, mask_source=source)
        ablation[f"mask: {source}"] = {"schedule": PAPER_SCHEDULE, **evaluate(dataset, weights, merging)}
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())
    threads = torch.get_num_threads()
    result = {
        "label": "SYNTHETIC: stand-in bodies, not people",
        "command": f"python scripts/accuracy_tables.py {flags}",
        "held_out": {"images": args.images, "clips": args.clips, "frames": args.frames, "seed": 7},
        "calibration": {"images": args.calib_images, "seed": 3, "tau_mm": args.tau},
        "timing": f"one crop, batch 1, CPU, {threads} threads, {args.rounds} interleaved rounds",
        "table1": rows,
        "mask_tome_ablation": ablation,
    }
    (out / "tables.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(rows, out / "table1.png", "FastHMR Table 1 in miniature (SYNTHETIC, vit_xs)")
    plot(
        {k: v for k, v in ablation.items()}, out / "mask_tome_ablation.png", "Mask-ToMe ablations (SYNTHETIC)"
    )
    cols = ["layers", "tokens", "gmacs_per_crop", "speedup", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm"]
    print(markdown(rows, cols))
    print()
    print(markdown(ablation, ["schedule", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results/accuracy")
    parser.add_argument("--work", default="data/tables")
    parser.add_argument("--weights", default=str(EMBEDDED_WEIGHTS))
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--calib-images", type=int, default=80)
    parser.add_argument("--tau", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=30)
    run(parser.parse_args())
