"""`fasthmr train-tokenizer`: train GenHMR's pose tokenizer (VQ-VAE) on AMASS-style motion files.

    fasthmr train-tokenizer --motion AMASS/ --out tokenizer.pt
    fasthmr train-tokenizer --sequences features/ --out tokenizer.pt   # poses of labelled sequences
    fasthmr train-tokenizer --synthetic 20 --preset tiny --out tok.pt   # smoke run, no data

Reports the round-trip reconstruction error on held-out motions: MPJPE in mm over the 24 SMPL
joints (root-relative, template shape) and the mean joint-rotation error in degrees.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.cli.training_args import add_training_arguments
from fasthmr_ros.config import GENHMR_PRESETS, genhmr_preset
from fasthmr_ros.decoders.data import (
    MotionClip,
    find_feature_sequences,
    find_motion_files,
    read_amass,
    read_feature_sequence,
    synthetic_clips,
)
from fasthmr_ros.decoders.genhmr.checkpoint import save_tokenizer
from fasthmr_ros.decoders.genhmr.skeleton import NUM_BODY_JOINTS, RestSkeleton
from fasthmr_ros.decoders.genhmr.training import TrainSettings, train_tokenizer
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import resolve_body_model

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion", default=None, help="AMASS npz file or folder (searched recursively)")
    parser.add_argument(
        "--sequences",
        default=None,
        help="feature-sequence npz file or folder: train on their ground-truth poses instead",
    )
    parser.add_argument("--synthetic", type=int, default=0, help="train on N synthetic motions instead")
    parser.add_argument("--frames", type=int, default=300, help="frames per synthetic motion")
    parser.add_argument("--out", type=Path, required=True, help="tokenizer checkpoint to write")
    parser.add_argument("--preset", choices=sorted(GENHMR_PRESETS), default="paper", help="model sizes")
    parser.add_argument("--fps", type=float, default=30.0, help="resample motions to this rate first")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="motions held out for the report")
    add_training_arguments(parser, steps=20000, batch_size=256, lr=2e-4)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument(
        "--smpl", default=None, help="SMPL_NEUTRAL.pkl for the mm report (default: 4D-Humans cache)"
    )


def _clips(args: argparse.Namespace) -> list[MotionClip]:
    if args.synthetic:
        return synthetic_clips(args.synthetic, args.frames, args.fps, args.seed)
    if args.sequences:
        files = find_feature_sequences(args.sequences)
        sequences = [read_feature_sequence(p) for p in tqdm(files, desc="read sequences", unit="file")]
        return [MotionClip(s.global_orient, s.body_pose, s.betas[0], s.fps, name=s.name) for s in sequences]
    if not args.motion:
        raise InputError("give --motion PATH (AMASS npz files), --sequences PATH or --synthetic N")
    files = find_motion_files(args.motion)
    return [read_amass(p, args.fps) for p in tqdm(files, desc="read motion", unit="file")]


def body_poses(clips: list[MotionClip]) -> torch.Tensor:
    """(F, 21, 3, 3) body-joint rotations of every frame (hands are not tokenised)."""
    return torch.as_tensor(
        np.concatenate([c.body_pose[:, :NUM_BODY_JOINTS] for c in clips]), dtype=torch.float32
    )


def run(args: argparse.Namespace) -> int:
    if args.steps < 1 or args.batch_size < 1:
        raise InputError("--steps and --batch-size must be positive")
    if not 0 < args.val_fraction < 1:
        raise InputError("--val-fraction must be between 0 and 1")
    clips = [c for c in _clips(args) if len(c) > 0]
    if len(clips) < 2:
        raise InputError(f"need at least 2 motions (one is held out for validation), got {len(clips)}")
    order = np.random.default_rng(args.seed).permutation(len(clips))
    num_val = max(1, round(len(clips) * args.val_fraction))
    val = body_poses([clips[i] for i in order[:num_val]])
    train = body_poses([clips[i] for i in order[num_val:]])
    body = resolve_body_model(args.smpl)
    skeleton = RestSkeleton.from_body_model(body.body)
    cfg = genhmr_preset(args.preset).tokenizer
    log.info(
        "training the pose tokenizer (%s) on %d frames, validating on %d", args.preset, len(train), len(val)
    )
    settings = TrainSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        eval_every=max(1, args.eval_every),
        device=args.device,
    )
    tokenizer, metrics = train_tokenizer(train, val, cfg, settings, skeleton)
    report = {**metrics, "body_model": body.description, "train_frames": len(train), "val_frames": len(val)}
    save_tokenizer(args.out, tokenizer.cpu(), report)
    print(json.dumps(report, indent=2))
    print(
        f"reconstruction error on held-out motions: {metrics['mpjpe_mm']:.1f} mm MPJPE, "
        f"{metrics['rotation_error_deg']:.2f} deg per joint ({body.description})"
    )
    print(f"wrote {args.out}")
    return 0
