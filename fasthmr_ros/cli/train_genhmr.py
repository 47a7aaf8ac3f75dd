"""`fasthmr train-genhmr`: train GenHMR's image-conditioned masked transformer.

    fasthmr train-genhmr --tokenizer tokenizer.pt --sequences features/ --out genhmr.pt
    fasthmr train-genhmr --tokenizer tok.pt --synthetic 20 --preset tiny --out g.pt   # smoke run

The sequences are labelled feature sequences (docs/decoders.md layout b) *with* `image_tokens`.
The tokenizer is frozen; the checkpoint written embeds it, so `--genhmr-model` needs only this file.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fasthmr_ros.cli.training_args import add_training_arguments
from fasthmr_ros.config import GENHMR_PRESETS, genhmr_preset
from fasthmr_ros.decoders.data import (
    FeatureSequence,
    find_feature_sequences,
    read_feature_sequence,
    synthetic_sequences,
)
from fasthmr_ros.decoders.genhmr.checkpoint import load_tokenizer, save_genhmr
from fasthmr_ros.decoders.genhmr.skeleton import RestSkeleton
from fasthmr_ros.decoders.genhmr.training import (
    TrainSettings,
    add_synthetic_image_tokens,
    frames_from_sequences,
    train_genhmr,
)
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import resolve_body_model

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokenizer", type=Path, required=True, help="checkpoint from `train-tokenizer`")
    parser.add_argument("--sequences", default=None, help="feature-sequence npz file or folder")
    parser.add_argument("--synthetic", type=int, default=0, help="train on N synthetic sequences instead")
    parser.add_argument("--frames", type=int, default=120, help="frames per synthetic sequence")
    parser.add_argument("--out", type=Path, required=True, help="GenHMR checkpoint to write")
    parser.add_argument("--preset", choices=sorted(GENHMR_PRESETS), default="paper", help="transformer sizes")
    parser.add_argument("--no-head-token", action="store_true", help="attend to image tokens only")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="sequences held out for the report")
    add_training_arguments(parser, steps=50000, batch_size=64, lr=1e-4)
    parser.add_argument("--eval-every", type=int, default=2000)
    parser.add_argument(
        "--smpl", default=None, help="SMPL_NEUTRAL.pkl for the mm report (default: 4D-Humans cache)"
    )


def _sequences(args: argparse.Namespace) -> list[FeatureSequence]:
    if args.synthetic:
        seqs = synthetic_sequences(args.synthetic, args.frames, feature_dim=32, seed=args.seed)
        return add_synthetic_image_tokens(seqs, seed=args.seed)
    if not args.sequences:
        raise InputError(
            "give --sequences PATH (feature-sequence npz files with image_tokens) or --synthetic N"
        )
    files = find_feature_sequences(args.sequences)
    return [
        read_feature_sequence(p, load_image_tokens=True)
        for p in tqdm(files, desc="read sequences", unit="file")
    ]


def run(args: argparse.Namespace) -> int:
    if args.steps < 1 or args.batch_size < 1:
        raise InputError("--steps and --batch-size must be positive")
    if not 0 < args.val_fraction < 1:
        raise InputError("--val-fraction must be between 0 and 1")
    tokenizer = load_tokenizer(args.tokenizer)
    sequences = _sequences(args)
    if len(sequences) < 2:
        raise InputError(f"need at least 2 sequences (one is held out for validation), got {len(sequences)}")
    order = np.random.default_rng(args.seed).permutation(len(sequences))
    num_val = max(1, round(len(sequences) * args.val_fraction))
    val = frames_from_sequences([sequences[i] for i in order[:num_val]])
    train = frames_from_sequences([sequences[i] for i in order[num_val:]])
    cfg = genhmr_preset(args.preset).transformer
    cfg.context_dim = int(train.image_tokens.shape[-1])  # the backbone the data came from
    cfg.head_token_dim = 0 if args.no_head_token else int(train.head_token.shape[-1])
    body = resolve_body_model(args.smpl)
    log.info(
        "training the masked transformer (%s) on %d frames, validating on %d",
        args.preset,
        len(train),
        len(val),
    )
    settings = TrainSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        eval_every=max(1, args.eval_every),
        device=args.device,
    )
    model, metrics = train_genhmr(
        train, val, tokenizer, cfg, settings, RestSkeleton.from_body_model(body.body)
    )
    report = {**metrics, "body_model": body.description, "train_frames": len(train), "val_frames": len(val)}
    save_genhmr(args.out, tokenizer.cpu(), model.cpu(), report)
    print(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0
