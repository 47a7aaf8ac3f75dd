"""Flags the `fasthmr train-*` and `eval-decoder` commands share, so they read and mean the same."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fasthmr_ros.models.body_model import BodyModel


def add_training_arguments(
    parser: argparse.ArgumentParser, *, steps: int, batch_size: int, lr: float
) -> None:
    """--steps, --batch-size, --lr, --device, --seed with per-command defaults."""
    parser.add_argument("--steps", type=int, default=steps, help=f"optimiser steps (default {steps})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    parser.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (data split, init, batches)")


def add_body_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smpl", default=None, help="SMPL_NEUTRAL.pkl (default: the 4D-Humans cache, else the stand-in body)"
    )


def body_model_from_args(args: argparse.Namespace) -> BodyModel:
    """The SMPL the user named or has; without one, the generated stand-in (CI, smoke tests).

    The decoder only needs a skeleton, so training and evaluating on the stand-in exercise the
    same code, but a model trained on it must not be used with real SMPL bodies.
    """
    from fasthmr_ros.models.default import resolve_body_model

    return resolve_body_model(args.smpl).body
