"""`fasthmr train-hmr DATA --out CKPT`: train an HMR-structured model on a labelled data set.

    fasthmr synth data/train --images 8000 --seed 1
    fasthmr synth data/val --images 200 --seed 2
    fasthmr train-hmr data/train --val data/val --out model.pt

Progress bar, a resumable state in --work-dir every --checkpoint-every steps (run the same
command again to continue), fixed seed. The written checkpoint loads with `load_model` like any
other; docs/accuracy.md gives the command that reproduces the embedded default.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fasthmr_ros.cli.training_args import add_training_arguments
from fasthmr_ros.training.hmr import TrainHMRSettings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainHMRSettings()
    parser.add_argument("data", help="labelled data-set folder (`fasthmr synth` layout)")
    parser.add_argument("--out", type=Path, required=True, help="trained checkpoint to write (.pt)")
    parser.add_argument("--val", help="held-out data-set folder for the validation MPJPE")
    parser.add_argument("--preset", default=defaults.preset, help="architecture preset (default vit_xs)")
    parser.add_argument("--work-dir", type=Path, help="resumable training state (default: OUT's folder)")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--eval-every", type=int, default=500, help="validation every N steps")
    parser.add_argument(
        "--mirror", type=float, default=defaults.mirror, help="chance a crop is mirrored (labels too)"
    )
    parser.add_argument(
        "--local-weight",
        type=float,
        default=defaults.w_local,
        help="weight of the body-frame joint loss (articulation apart from the root rotation)",
    )
    parser.add_argument("--init", default=defaults.init, help="checkpoint to fine-tune from")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    add_training_arguments(parser, steps=defaults.steps, batch_size=defaults.batch_size, lr=defaults.lr)


def run(args: argparse.Namespace) -> int:
    import torch

    from fasthmr_ros.models.default import resolve_body_model
    from fasthmr_ros.samples.dataset import read_labelled_set
    from fasthmr_ros.training.hmr import HMRTrainer, save_trained

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TrainHMRSettings(
        preset=args.preset,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        mirror=args.mirror,
        w_local=args.local_weight,
        init=args.init,
    )
    data = read_labelled_set(args.data)
    val = read_labelled_set(args.val) if args.val else None
    body = resolve_body_model()
    work_dir = args.work_dir or args.out.parent / f"{args.out.stem}_work"
    trainer = HMRTrainer(data, body.body, settings, work_dir, val)
    trainer.load_state()
    trainer.run(eval_every=args.eval_every)
    path = save_trained(trainer, args.out, args.command_line)
    print(f"trained {settings.preset} for {trainer.step} steps ({trainer.elapsed_s / 60:.1f} min) -> {path}")
    return 0
