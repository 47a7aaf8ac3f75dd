"""Flags every `fasthmr train-*` command shares, so they read and mean the same everywhere."""

from __future__ import annotations

import argparse


def add_training_arguments(
    parser: argparse.ArgumentParser, *, steps: int, batch_size: int, lr: float
) -> None:
    """--steps, --batch-size, --lr, --device, --seed with per-command defaults."""
    parser.add_argument("--steps", type=int, default=steps, help=f"optimiser steps (default {steps})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    parser.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (data split, init, batches)")
