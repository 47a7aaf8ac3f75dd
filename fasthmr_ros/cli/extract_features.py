"""`fasthmr extract-features LABELS... --out DIR`: labelled sequences -> feature-sequence npz files.

Runs the base model (any checkpoint, e.g. an ECLM layer-merged one) on every labelled frame and
writes what `fasthmr train-decoder denoiser` reads (layout (b) in docs/decoders.md). Existing
outputs are skipped unless --overwrite, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from fasthmr_ros.decoders.data import write_feature_sequence
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import EMBEDDED_WARNING, resolve_body_model, resolve_model
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.extract import extract_sequence, read_labels

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", nargs="+", help="labels npz files or folders of them")
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature sequences")
    parser.add_argument("--checkpoint", help="base model checkpoint (default: found or embedded)")
    parser.add_argument(
        "--smpl", help="SMPL_NEUTRAL.pkl: adds ground-truth joints3d (default: 4D-Humans cache)"
    )
    parser.add_argument("--image-tokens", action="store_true", help="also store backbone tokens (large)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--overwrite", action="store_true", help="redo sequences already written")


def _label_files(items: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.npz")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"labels not found: {path}")
    if not files:
        raise InputError("no labels npz files given")
    return files


def run(args: argparse.Namespace) -> int:
    files = _label_files(args.labels)
    todo = [f for f in files if args.overwrite or not (args.out / f"{f.stem}.npz").is_file()]
    if len(todo) < len(files):
        log.info("skipping %d sequences already extracted", len(files) - len(todo))
    frames = sum(len(read_labels(f)["images"]) for f in todo)  # also checks every file up front
    model_src = resolve_model(args.checkpoint, device=args.device)
    body_src = resolve_body_model(args.smpl)
    estimator = MeshEstimator(model_src.model, body_src.body, device=args.device)
    if model_src.embedded or body_src.standin:
        log.warning(EMBEDDED_WARNING)
    gt_body = None if body_src.standin else body_src.body
    with tqdm(total=frames, desc="extract", unit="frame") as bar:
        for path in todo:
            seq = extract_sequence(
                path, estimator, gt_body, args.image_tokens, progress=lambda: bar.update(1)
            )
            write_feature_sequence(args.out / f"{path.stem}.npz", seq)
    print(
        f"wrote {len(todo)} feature sequences to {args.out} ({frames} frames, model {model_src.description})"
    )
    return 0
