"""FastHMR's Table 1, the Mask-ToMe ablations and GenHMR's rows in miniature, on the synthetic
world (SYNTHETIC).

    .venv/bin/python scripts/accuracy_tables.py --out docs/results/accuracy

One run: generates a held-out set (stills + clips) and a calibration split, runs `fasthmr merge`
at the stated tau on the calibration split; generates a decoder training set (stills + clips,
another seed), extracts its features through the evaluation pipeline and trains the diffusion
decoder (VAE on synthetic motion, denoiser on the ECLM+Mask-ToMe model's features) and GenHMR
(tokenizer and masked transformer on the base model's features); then evaluates every variant
through the pipeline (`fasthmr_ros.evaluation`) on the same held-out data, and times the
variants' network forward (plus decoder) side by side, interleaved (one crop, round robin), with
their MACs. Writes tables.json, three plots and prints the Markdown tables of the README.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasthmr_ros.bench.harness import count_macs
from fasthmr_ros.cli.main import main as fasthmr
from fasthmr_ros.config import DecoderConfig, GenHMRConfig, MergingConfig
from fasthmr_ros.decoders.base import DecoderInput
from fasthmr_ros.decoders.data import write_feature_sequence
from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder
from fasthmr_ros.decoders.genhmr.decoder import GenHMRDecoder
from fasthmr_ros.evaluation import accuracy, evaluation_pipeline, mean_pose_of, run_pipeline
from fasthmr_ros.evaluation.features import extract_features
from fasthmr_ros.evaluation.keypoints import noisy_keypoints
from fasthmr_ros.models.checkpoint import load_model
from fasthmr_ros.models.default import EMBEDDED_WEIGHTS, resolve_body_model
from fasthmr_ros.samples.dataset import LabelledSet, is_labelled_set, read_labelled_set

TOKENS = 192
PAPER_SCHEDULE = [40, 40, 22]  # 192 -> 152 -> 112 -> 90
DECODER_TRAIN_SEED = 21  # held-out 7, calibration 3, the HMR training sets 1 and 2
KEYPOINT_NOISE_SEED = 5
KEYPOINT_NOISE_NOTE = (
    "ASSUMED, not measured here: independent Gaussian noise per coordinate with a standard deviation "
    "of the stated fraction of the person's box height, standing in for a top-down 2D detector "
    "(ViTPose / HRNet class, COCO keypoint AP about 75-77, whose OKS tolerances per keypoint are "
    "2.5-10.7% of the person's scale); no outliers, no left-right swaps, confidence 1"
)


@dataclass
class Variant:
    """One row's model for the cost measurement: checkpoint, token schedule, and the decoder work
    done per crop after the network (None: the regression head's pose)."""

    checkpoint: str
    schedule: list[int]
    decoder: Callable[[dict[str, torch.Tensor]], Any] | None = None


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


def evaluate(
    dataset: LabelledSet,
    checkpoint: str,
    merging: MergingConfig | None,
    decoder: DecoderConfig | None = None,
    genhmr: GenHMRConfig | None = None,
    keypoints: np.ndarray | None = None,
) -> dict[str, Any]:
    pipeline = evaluation_pipeline(checkpoint, merging=merging, decoder=decoder, genhmr=genhmr)
    estimates = run_pipeline(pipeline, dataset, keypoints=keypoints)
    report = accuracy(estimates, dataset, pipeline.estimator.body, mean_pose_of(pipeline.estimator.model))
    keep = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm", "mean_pose_mpjpe_mm", "persons", "missed")
    return {
        k: round(report[k], 2) if isinstance(report[k], float) else report[k] for k in keep if k in report
    }


def cost(variants: dict[str, Variant], rounds: int) -> dict[str, dict[str, float]]:
    """MACs per crop and the median time of one crop's forward (plus its decoder), interleaved
    across variants. No grad rather than inference mode: GenHMR's refinement differentiates."""
    crop = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    calls = {}
    for name, variant in variants.items():
        model = load_model(variant.checkpoint)
        model.set_token_merging(MergingConfig(token_schedule=variant.schedule) if variant.schedule else None)
        grid = model.backbone.grid_size
        mask = torch.zeros(1, grid[0] * grid[1], dtype=torch.bool)
        mask.view(1, *grid)[:, 2:-2, 3:-3] = True  # a standing person in the middle of the crop

        def call(m: torch.nn.Module = model, k: torch.Tensor = mask, d: Any = variant.decoder) -> None:
            out = m(crop, person_mask=k)
            if d is not None:
                d(out)

        calls[name] = call
    times: dict[str, list[float]] = {name: [] for name in variants}
    macs = {}
    with torch.no_grad():
        for name, call in calls.items():
            macs[name] = count_macs(call)
            call()  # warm-up
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
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


def diffusion_step(checkpoint: Path) -> Callable[[dict[str, torch.Tensor]], Any]:
    """The diffusion decoder's work per person and frame: one denoising pass over a full window
    of head tokens, the VAE decode and IK (a long track's steady state)."""
    decoder = DiffusionDecoder.from_checkpoint(checkpoint)
    window = decoder.cfg.window

    def step(out: dict[str, torch.Tensor]) -> Any:
        features = out["head_token"][:, None].expand(-1, window, -1)
        return decoder.decode_windows(features, torch.full((1,), float(window - 1)))

    return step


def genhmr_step(
    checkpoint: Path, cfg: GenHMRConfig, refine: bool
) -> Callable[[dict[str, torch.Tensor]], Any]:
    """GenHMR's work per person and frame through `GenHMRDecoder.decode` (sampling, and the 2D
    refinement when `refine`, with fixed keypoints spread over the crop)."""
    decoder = GenHMRDecoder.from_checkpoint(checkpoint, cfg, resolve_body_model().body)
    gen = torch.Generator().manual_seed(0)
    keypoints = torch.cat([torch.rand(1, 17, 2, generator=gen) - 0.5, torch.ones(1, 17, 1)], -1)

    def step(out: dict[str, torch.Tensor]) -> Any:
        return decoder.decode(
            DecoderInput(
                track_ids=[0],
                image_tokens=out["image_tokens"],
                head_token=out["head_token"],
                global_orient=out["global_orient"],
                body_pose=out["body_pose"],
                betas=out["betas"],
                pred_cam=out["pred_cam"],
                histories=[[]],
                keypoints2d=keypoints if refine else None,
            )
        )

    return step


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
    ax.set_xticks(range(len(names)), [textwrap.fill(n, 16) for n in names], fontsize=7)
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


def write_features(pipeline_checkpoint: str, merging: MergingConfig | None, dataset: LabelledSet,
                   folder: Path, image_tokens: bool, min_frames: int) -> int:  # fmt: skip
    """Extract the decoder training features of `dataset` through the evaluation pipeline, keeping
    sequences of at least `min_frames` (2: motion only, for a temporal decoder); -> frames kept."""
    shutil.rmtree(folder, ignore_errors=True)  # features belong to one model: never mix two
    pipeline = evaluation_pipeline(pipeline_checkpoint, merging=merging)
    sequences = extract_features(pipeline, dataset, image_tokens=image_tokens)
    kept = [s for s in sequences if len(s) >= min_frames]
    for seq in kept:
        write_feature_sequence(folder / f"{seq.name}.npz", seq)
    return sum(len(s) for s in kept)


def train_decoders(args: argparse.Namespace, work: Path, weights: str, merged: Path) -> dict[str, Any]:
    """Train the diffusion decoder (on the ECLM+Mask-ToMe model's features) and GenHMR (on the base
    model's), every stage seeded; returns the checkpoints, sizes and wall times."""
    minutes: dict[str, float] = {}

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        minutes[stage] = round((time.perf_counter() - start) / 60, 2)
        return result

    train_dir = work / "decoder_train"
    timed("render training set", lambda: ensure_set(train_dir, "--images", str(args.decoder_images),
          "--clips", str(args.decoder_clips), "--frames", str(args.decoder_frames),
          "--seed", str(DECODER_TRAIN_SEED)))  # fmt: skip
    train = read_labelled_set(train_dir)
    features, models = work / "features", work / "decoders"
    models.mkdir(parents=True, exist_ok=True)
    paper = MergingConfig(token_schedule=PAPER_SCHEDULE, mask_source="segmentation")

    diffusion_frames = timed("extract diffusion features", lambda: write_features(
        str(merged), paper, train, features / "diffusion", image_tokens=False, min_frames=2))  # fmt: skip
    genhmr_frames = timed("extract genhmr features", lambda: write_features(
        weights, None, train, features / "genhmr", image_tokens=True, min_frames=1))  # fmt: skip
    vae, diffusion = models / "vae.pt", models / "diffusion.pt"
    tokenizer, genhmr = models / "tokenizer.pt", models / "genhmr.pt"
    common = ["--seed", "0", "--device", "cpu"]
    commands = {
        "train vae": ["train-decoder", "vae", "--synthetic", str(args.motions), "--frames", "300",
                      "--preset", "small", "--steps", str(args.vae_steps), "--batch-size", "64",
                      "--lr", "1e-3", "--out", str(vae), *common],
        "train denoiser": ["train-decoder", "denoiser", "--vae", str(vae), "--sequences",
                           str(features / "diffusion"), "--steps", str(args.denoiser_steps),
                           "--batch-size", "64", "--lr", "1e-3", "--out", str(diffusion), *common],
        "train tokenizer": ["train-tokenizer", "--sequences", str(features / "genhmr"), "--preset",
                            "small", "--steps", str(args.tokenizer_steps), "--batch-size", "256",
                            "--lr", "2e-3", "--eval-every", str(args.tokenizer_steps), "--out",
                            str(tokenizer), *common],
        "train genhmr": ["train-genhmr", "--tokenizer", str(tokenizer), "--sequences",
                         str(features / "genhmr"), "--preset", "small", "--steps",
                         str(args.genhmr_steps), "--batch-size", "64", "--lr", "1e-3",
                         "--eval-every", str(args.genhmr_steps), "--out", str(genhmr), *common],
    }  # fmt: skip
    for stage, command in commands.items():
        assert timed(stage, lambda c=command: fasthmr(c)) == 0, stage
    return {
        "diffusion_model": diffusion,
        "genhmr_model": genhmr,
        "record": {
            "train_set": {
                "images": train.num_images,
                "persons": train.num_persons,
                "clips": len(train.clip_ids()),
                "seed": DECODER_TRAIN_SEED,
            },
            "feature_frames": {"diffusion": diffusion_frames, "genhmr": genhmr_frames},
            "commands": {stage: "fasthmr " + " ".join(c) for stage, c in commands.items()},
            "wall_minutes": minutes,
            "genhmr_metrics": torch.load(genhmr, weights_only=True).get("metrics", {}),
        },
    }


def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
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
    trained = train_decoders(args, work, weights, merged)
    dataset = read_labelled_set(held_out)
    paper = MergingConfig(token_schedule=PAPER_SCHEDULE, mask_source="segmentation")
    diffusion = DecoderConfig(decoder="diffusion", diffusion_model=str(trained["diffusion_model"]))
    table1 = {
        "baseline": (weights, None, None),
        "+ECLM": (str(merged), None, None),
        "+Mask-ToMe": (weights, paper, None),
        "+ECLM+Mask-ToMe": (str(merged), paper, None),
        "+ECLM+Mask-ToMe+diffusion decoder": (str(merged), paper, diffusion),
    }
    rows = {name: evaluate(dataset, ckpt, merging, dec) for name, (ckpt, merging, dec) in table1.items()}
    genhmr_rows, genhmr_variants, noise_record = genhmr_table(args, dataset, weights, trained["genhmr_model"])
    diffusion_cost = diffusion_step(trained["diffusion_model"])
    variants = {
        n: Variant(c, m.token_schedule if m else [], diffusion_cost if d else None)
        for n, (c, m, d) in table1.items()
    }
    speed = cost({**variants, **genhmr_variants}, args.rounds)
    for name in rows:
        layers = load_model(table1[name][0]).config.backbone.depth
        schedule = variants[name].schedule
        rows[name].update(layers=layers, tokens=TOKENS - sum(schedule), **speed[name])
    base_layers = load_model(weights).config.backbone.depth
    for name in genhmr_rows:
        genhmr_rows[name].update(layers=base_layers, tokens=TOKENS, **speed.get(name, {}))
    genhmr_rows = {"regression head (baseline)": rows["baseline"], **genhmr_rows}
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
        "timing": f"one crop, batch 1, CPU, {threads} threads, {args.rounds} interleaved rounds "
        "(network + decoder per person and frame)",
        "table1": rows,
        "mask_tome_ablation": ablation,
        "genhmr": genhmr_rows,
        "keypoints_noise": noise_record,
        "decoder_training": trained["record"],
        "wall_minutes_total": round((time.perf_counter() - started) / 60, 1),
    }
    (out / "tables.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    plot(rows, out / "table1.png", "FastHMR Table 1 in miniature (SYNTHETIC, vit_xs)")
    plot(
        {k: v for k, v in ablation.items()}, out / "mask_tome_ablation.png", "Mask-ToMe ablations (SYNTHETIC)"
    )
    plot(genhmr_rows, out / "genhmr.png", "GenHMR rows in miniature (SYNTHETIC, vit_xs)")
    cols = ["layers", "tokens", "gmacs_per_crop", "speedup", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm"]
    print(markdown(rows, cols))
    print()
    print(markdown(ablation, ["schedule", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm"]))
    print()
    print(markdown(genhmr_rows, cols))


def genhmr_table(
    args: argparse.Namespace, dataset: LabelledSet, weights: str, checkpoint: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, Variant], dict[str, Any]]:
    """GenHMR on the base model: one pass (argmax, T=1), T iterations, and T iterations refined
    against noisy (and against exact) COCO-17 keypoints. Refinement runs all its steps (no time
    budget), so the rows do not depend on the machine's load."""
    decoder = DecoderConfig(decoder="genhmr", genhmr_model=str(checkpoint))
    body = resolve_body_model().body
    noisy = noisy_keypoints(dataset, body, args.keypoints_noise, KEYPOINT_NOISE_SEED)
    exact = noisy_keypoints(dataset, body, 0.0)
    settings: dict[str, tuple[int, np.ndarray | None]] = {
        "GenHMR one pass (argmax, T=1)": (1, None),
        f"GenHMR T={args.genhmr_iterations} (argmax)": (args.genhmr_iterations, None),
        f"GenHMR T={args.genhmr_iterations} + 2D refinement, noisy 2D": (args.genhmr_iterations, noisy),
        f"GenHMR T={args.genhmr_iterations} + 2D refinement, exact 2D": (args.genhmr_iterations, exact),
    }
    rows, variants = {}, {}
    for name, (iterations, keypoints) in settings.items():
        cfg = GenHMRConfig()
        cfg.sampling.iterations = iterations
        cfg.refinement.time_budget_ms = 0.0
        rows[name] = {
            "iterations": iterations,
            "refinement": keypoints is not None,
            **evaluate(dataset, weights, None, decoder, cfg, keypoints),
        }
        variants[name] = Variant(weights, [], genhmr_step(checkpoint, cfg, keypoints is not None))
    error = np.linalg.norm(noisy[..., :2] - exact[..., :2], axis=-1)
    height = dataset.box_heights
    record = {
        "sigma_box_height_fraction": args.keypoints_noise,
        "seed": KEYPOINT_NOISE_SEED,
        "mean_2d_error_px": round(float(error.mean()), 2),
        "mean_2d_error_box_fraction": round(float((error / height[:, None]).mean()), 4),
        "model": KEYPOINT_NOISE_NOTE,
    }
    return rows, variants, record


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
    sizes = parser.add_argument_group("decoder training sizes (the extra rows)")
    sizes.add_argument("--decoder-images", type=int, default=300, help="still images of the training set")
    sizes.add_argument("--decoder-clips", type=int, default=16, help="clips of the training set")
    sizes.add_argument("--decoder-frames", type=int, default=60, help="frames per training clip")
    sizes.add_argument("--motions", type=int, default=256, help="synthetic motions for the diffusion VAE")
    sizes.add_argument("--vae-steps", type=int, default=1500)
    sizes.add_argument("--denoiser-steps", type=int, default=1500)
    sizes.add_argument("--tokenizer-steps", type=int, default=1000)
    sizes.add_argument("--genhmr-steps", type=int, default=1000)
    sizes.add_argument("--genhmr-iterations", type=int, default=5, help="GenHMR's sampling iterations T")
    sizes.add_argument(
        "--keypoints-noise", type=float, default=0.03, help="2D noise std per coordinate / box height"
    )
    run(parser.parse_args())
