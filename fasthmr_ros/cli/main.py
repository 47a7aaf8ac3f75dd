"""Entry point of the `fasthmr` command.

Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs, so `fasthmr --help` stays fast and a missing
optional dependency of one command never breaks another.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys

from fasthmr_ros.errors import FastHMRError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "fasthmr_ros.cli.demo",
        "the main job on generated input and the embedded default (no downloads)",
    ),
    "predict": ("fasthmr_ros.cli.predict", "single image -> result.json + overlay.png"),
    "bag": ("fasthmr_ros.cli.bag", "rosbag2 in -> rosbag2 out with SMPL meshes, RViz markers, preview"),
    "download": (
        "fasthmr_ros.cli.download",
        "fetch the public HMR 2.0 data archive into the 4D-Humans cache",
    ),
    "train-decoder": ("fasthmr_ros.cli.train_decoder", "train the diffusion decoder: vae | denoiser stage"),
    "eval-decoder": (
        "fasthmr_ros.cli.eval_decoder",
        "diffusion decoder vs its noisy regression input: MPJPE and accel error",
    ),
    "train-tokenizer": ("fasthmr_ros.cli.train_tokenizer", "train GenHMR's pose tokenizer (VQ-VAE)"),
    "train-genhmr": ("fasthmr_ros.cli.train_genhmr", "train GenHMR's masked transformer"),
    "merge": ("fasthmr_ros.cli.merge", "ECLM layer merging of a checkpoint on calibration data"),
    "bench": ("fasthmr_ros.cli.bench", "speed and accuracy cost of the merging variants and runtime paths"),
    "soak": ("fasthmr_ros.cli.soak", "the live DDS node under a synthetic camera: latency, drops, RSS"),
    "export": ("fasthmr_ros.cli.export", "model (merged layers, Mask-ToMe, SMPL head) -> ONNX"),
    "build-engine": ("fasthmr_ros.cli.build_engine", "ONNX -> cached TensorRT engine for this GPU"),
    "node": ("fasthmr_ros.cli.node", "the live ROS 2 node: --transport dds (no ROS needed) or rclpy"),
    "extract-features": ("fasthmr_ros.cli.extract_features", "labelled video -> decoder training features"),
    "synth": ("fasthmr_ros.cli.synth", "labelled synthetic data set of stand-in bodies (images, clips)"),
    "eval": ("fasthmr_ros.cli.eval", "MPJPE, PA-MPJPE, PVE, accel error and latency on a labelled set"),
    "train-hmr": ("fasthmr_ros.cli.train_hmr", "train an HMR-structured model on a labelled set (CPU)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand is listed; only `command`'s module is imported and given its arguments."""
    parser = argparse.ArgumentParser(prog="fasthmr", description="FastHMR / GenHMR human mesh recovery")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if a in COMMANDS), None)
    args = build_parser(command).parse_args(argv)
    # What reproduces this run, recorded by commands that write results (also when called in-process).
    args.command_line = "fasthmr " + shlex.join(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="[%(levelname)s] %(name)s: %(message)s",
    )
    try:
        return int(args._module.run(args) or 0)
    except FastHMRError as exc:
        # Expected user-facing failures: one clear line, no traceback.
        print(f"fasthmr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fasthmr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
