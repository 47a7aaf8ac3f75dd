"""`fasthmr train-decoder vae|denoiser`: train the diffusion decoder's two stages.

    fasthmr train-decoder vae --motion AMASS/ --out vae.pt
    fasthmr train-decoder denoiser --vae vae.pt --sequences features/ --out decoder.pt

`--synthetic N` replaces the data with N generated motions (CI, smoke tests, the evidence run).
Checkpoints are written every --save-every steps; --resume continues from --out.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fasthmr_ros.cli.training_args import (
    add_body_model_arguments,
    add_training_arguments,
    body_model_from_args,
)
from fasthmr_ros.config import DIFFUSION_PRESETS, diffusion_preset
from fasthmr_ros.decoders.data import (
    find_feature_sequences,
    find_motion_files,
    read_amass,
    read_feature_sequence,
    synthetic_clips,
    synthetic_sequences,
    to_camera_frame,
)
from fasthmr_ros.decoders.diffusion.training import TrainSettings, train_denoiser, train_vae
from fasthmr_ros.errors import InputError

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    add_training_arguments(parser, steps=2000, batch_size=64, lr=2e-4)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    parser.add_argument("--synthetic", type=int, default=0, help="train on N synthetic motions instead")
    parser.add_argument("--frames", type=int, default=300, help="frames per synthetic motion")
    add_body_model_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    vae = stages.add_parser("vae", help="stage 1: motion VAE on AMASS-style motion files")
    vae.add_argument("--motion", default=None, help="AMASS npz file or folder (searched recursively)")
    vae.add_argument("--preset", choices=sorted(DIFFUSION_PRESETS), default="paper", help="model sizes")
    _common(vae)
    den = stages.add_parser("denoiser", help="stage 2: latent denoiser on labelled feature sequences")
    den.add_argument("--vae", type=Path, required=True, help="checkpoint from `train-decoder vae`")
    den.add_argument("--sequences", default=None, help="feature-sequence npz file or folder")
    den.add_argument("--noise-deg", type=float, default=6.0, help="synthetic regressor jitter (degrees)")
    _common(den)


def _settings(args: argparse.Namespace) -> TrainSettings:
    if args.steps < 1 or args.batch_size < 1:
        raise InputError("--steps and --batch-size must be positive")
    return TrainSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        save_every=max(1, args.save_every),
        device=args.device,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.stage == "vae":
        body_model = body_model_from_args(args)
        cfg = diffusion_preset(args.preset)
        if args.synthetic:
            clips = synthetic_clips(args.synthetic, args.frames, cfg.fps, args.seed)
        elif args.motion:
            rng = np.random.default_rng(args.seed)
            files = find_motion_files(args.motion)
            clips = [
                to_camera_frame(read_amass(p, cfg.fps), yaw=rng.uniform(-np.pi, np.pi))
                for p in tqdm(files, desc="read motion", unit="file")
            ]
        else:
            raise InputError("give --motion PATH (AMASS npz files) or --synthetic N")
        clips = [c for c in clips if len(c) >= 2]
        if not clips:
            raise InputError("no motion file has 2 or more frames at the target frame rate")
        log.info("training the motion VAE (%s preset) on %d clips", cfg.preset, len(clips))
        train_vae(cfg, clips, body_model, args.out, settings, args.resume)
    else:
        if args.synthetic:
            from fasthmr_ros.decoders.diffusion.model import load_vae

            _, payload = load_vae(args.vae)
            cfg = payload["config"]
            sequences = synthetic_sequences(
                args.synthetic, args.frames, cfg.fps, args.noise_deg, cfg.feature_dim, args.seed + 7
            )
        elif args.sequences:
            files = find_feature_sequences(args.sequences)
            sequences = [read_feature_sequence(p) for p in tqdm(files, desc="read sequences", unit="file")]
        else:
            raise InputError("give --sequences PATH (feature-sequence npz files) or --synthetic N")
        log.info("training the latent denoiser on %d sequences", len(sequences))
        train_denoiser(args.vae, sequences, args.out, settings, args.resume)
    print(f"wrote {args.out}")
    return 0
