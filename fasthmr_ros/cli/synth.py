"""`fasthmr synth OUT --images N --seed S [--clips K --frames F]`: a labelled synthetic data set.

Stand-in bodies (NOT real people) rendered with exact labels in the layout `fasthmr eval`,
`fasthmr train-hmr` and `fasthmr merge --calib` read (docs/accuracy.md). Different seeds give
disjoint draws: use one seed for training and another for held-out evaluation.
"""

from __future__ import annotations

import argparse

from fasthmr_ros.samples.synth import SynthConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SynthConfig()
    parser.add_argument("out", help="new folder to write the data set into")
    parser.add_argument("--images", type=int, default=0, help="still images (1-3 people each)")
    parser.add_argument("--clips", type=int, default=0, help="video clips with smooth motion")
    parser.add_argument("--frames", type=int, default=60, help="frames per clip")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data set)")
    parser.add_argument("--width", type=int, default=defaults.width, help="image width in pixels")
    parser.add_argument("--height", type=int, default=defaults.height, help="image height in pixels")
    parser.add_argument("--fps", type=float, default=defaults.fps, help="clip frame rate")


def run(args: argparse.Namespace) -> int:
    from fasthmr_ros.samples.synth import write_synth_set

    cfg = SynthConfig(width=args.width, height=args.height, fps=args.fps)
    dataset = write_synth_set(args.out, args.images, args.clips, args.frames, args.seed, cfg)
    print(f"{dataset.num_images} images, {dataset.num_persons} labelled persons -> {args.out}")
    return 0
