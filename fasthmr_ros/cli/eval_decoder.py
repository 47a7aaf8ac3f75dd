"""`fasthmr eval-decoder --model decoder.pt [--sequences DIR] [--json OUT] [--plot OUT.png]`.

The diffusion decoder against the noisy per-frame regression it was given: MPJPE and
acceleration error on held-out synthetic sequences (default) or labelled feature sequences,
printed as a table and optionally written as JSON and a trajectory plot (docs/decoders.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fasthmr_ros.cli.training_args import add_body_model_arguments, body_model_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="decoder checkpoint (train-decoder denoiser)")
    parser.add_argument(
        "--sequences", default=None, help="feature-sequence npz file or folder (default: synthetic)"
    )
    parser.add_argument(
        "--synthetic", type=int, default=16, help="synthetic test sequences when --sequences is unset"
    )
    parser.add_argument("--frames", type=int, default=240, help="frames per synthetic sequence")
    parser.add_argument(
        "--noise-deg", type=float, default=6.0, help="per-frame joint rotation noise (synthetic)"
    )
    parser.add_argument(
        "--seed", type=int, default=12345, help="synthetic test-set seed (differ from training)"
    )
    parser.add_argument("--lookahead", type=int, default=0)
    parser.add_argument("--sample-steps", type=int, default=1)
    parser.add_argument("--min-history", type=int, default=4)
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of one joint's trajectory")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    add_body_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fasthmr_ros.decoders.data import find_feature_sequences, read_feature_sequence, synthetic_sequences
    from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder
    from fasthmr_ros.decoders.diffusion.evaluate import evaluate
    from fasthmr_ros.decoders.diffusion.model import load_diffusion_model

    body_model = body_model_from_args(args)
    model, payload = load_diffusion_model(args.model)
    decoder = DiffusionDecoder(model, args.lookahead, args.sample_steps, args.min_history)
    if args.sequences:
        sequences = [read_feature_sequence(p) for p in find_feature_sequences(args.sequences)]
    else:
        sequences = synthetic_sequences(
            args.synthetic, args.frames, model.cfg.fps, args.noise_deg, model.cfg.feature_dim, args.seed
        )
    result = evaluate(decoder, body_model, sequences, args.plot)
    reg, dif = result["regression"], result["diffusion"]
    print(
        f"decoder {args.model} (step {payload['step']}, preset {model.cfg.preset}), "
        f"lookahead {args.lookahead}, {len(sequences)} sequences"
    )
    print(f"{'':12s} {'MPJPE mm':>10s} {'accel err mm/f^2':>18s}")
    for name, m in result.items():
        print(f"{name:12s} {m['mpjpe_mm']:10.2f} {m['accel_error_mm']:18.2f}")
    print(
        f"accel error x{dif['accel_error_mm'] / reg['accel_error_mm']:.3f}, "
        f"MPJPE {dif['mpjpe_mm'] - reg['mpjpe_mm']:+.2f} mm"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0
