"""`fasthmr build-engine ONNX`: a TensorRT engine for this GPU, cached for the node to reuse.

`fasthmr build-engine OUT.onnx [--fp16 | --bf16 | --fp32] [--int8-calib CROPS.npz] [--batch N]
[--cache-dir DIR] [--workspace-gb G]`

The engine lands in the engine cache under a key of (ONNX hash, GPU, TensorRT version, precision,
batch): a second run with the same inputs reuses it, and the node finds it without flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fasthmr_ros.assets import paths
from fasthmr_ros.errors import InputError
from fasthmr_ros.runtime.onnx_export import read_model_io
from fasthmr_ros.runtime.tensorrt import ensure_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("onnx", help="graph written by `fasthmr export`")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp16", dest="precision", action="store_const", const="fp16", help="FP16 kernels (the default)"
    )
    precision.add_argument(
        "--bf16", dest="precision", action="store_const", const="bf16", help="BF16 kernels (Ampere or newer)"
    )
    precision.add_argument("--fp32", dest="precision", action="store_const", const="fp32", help="FP32 only")
    parser.set_defaults(precision="fp16")
    parser.add_argument(
        "--int8-calib",
        metavar="CROPS.npz",
        help="build INT8 (+FP16) calibrated on these crops (npz key 'crops', (N, 3, 256, 256))",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="engine batch (default: the ONNX file's fixed batch, or 1 for a dynamic one)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help=f"engine cache (default {paths.engines_dir()})"
    )
    parser.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace limit (default 4)")


def run(args: argparse.Namespace) -> int:
    if args.batch is not None and args.batch < 1:
        raise InputError(f"--batch must be >= 1, got {args.batch}")
    io = read_model_io(args.onnx)
    batch = args.batch or io.batch or 1
    precision = "int8" if args.int8_calib else args.precision
    path = ensure_engine(args.onnx, precision, batch, args.cache_dir, args.workspace_gb, args.int8_calib)
    print(f"engine ready: {path} ({precision}, batch {batch})")
    return 0
