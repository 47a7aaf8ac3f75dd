"""Entry point of the `fasthmr` command.

Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs, so `fasthmr --help` stays fast and a missing
optional dependency of one command never breaks another.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from fasthmr_ros.errors import FastHMRError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("fasthmr_ros.cli.predict", "single image -> result.json + overlay.png"),
    "download": (
        "fasthmr_ros.cli.download",
        "fetch the public HMR 2.0 data archive into the 4D-Humans cache",
    ),
    "train-decoder": ("fasthmr_ros.cli.train_decoder", "train the diffusion decoder: vae | denoiser stage"),
    "extract-features": ("fasthmr_ros.cli.extract_features", "labelled video -> decoder training features"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fasthmr", description="FastHMR / GenHMR human mesh recovery")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
