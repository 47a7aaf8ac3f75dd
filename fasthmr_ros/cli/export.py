"""`fasthmr export --onnx OUT.onnx`: the model (merged layers, Mask-ToMe, SMPL head) as ONNX.

`fasthmr export [--checkpoint CKPT] --onnx OUT.onnx [--token-schedule 40,40,22 | --target-tokens N
| --no-token-merging] [--no-mask-input] [--batch N | --dynamic-batch] [--no-verify]`
"""

from __future__ import annotations

import argparse

from fasthmr_ros.config import MergingConfig
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import EMBEDDED_WARNING, resolve_model
from fasthmr_ros.runtime.onnx_export import ONNX_OPSET, ExportError, apply_token_merging, export_onnx
from fasthmr_ros.runtime.onnxruntime_runner import verify_onnx

VERIFY_TOLERANCE = 1e-3


def _schedule(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated token counts like 40,40,22, got {text!r}"
        ) from exc
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        help="HMR 2.0 / CameraHMR / fasthmr_ros checkpoint, merged ones included "
        "(default: HMR 2.0 from the 4D-Humans cache, else the embedded default)",
    )
    parser.add_argument("--onnx", required=True, help="output .onnx file (large models add OUT.onnx.data)")
    merging = parser.add_mutually_exclusive_group()
    merging.add_argument(
        "--token-schedule",
        type=_schedule,
        metavar="R1,R2,...",
        help="Mask-ToMe: tokens merged in blocks 0, 1, ... (default: the paper's 40,40,22)",
    )
    merging.add_argument(
        "--target-tokens", type=int, metavar="N", help="Mask-ToMe: reach N tokens over --target-layers blocks"
    )
    merging.add_argument("--no-token-merging", action="store_true", help="export without Mask-ToMe")
    parser.add_argument(
        "--target-layers", type=int, default=3, help="blocks used by --target-tokens (default 3)"
    )
    parser.add_argument(
        "--no-mask-input", action="store_true", help="plain ToMe: no person_mask input, every patch may merge"
    )
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=int, default=1, help="fixed batch size (default 1)")
    batch.add_argument("--dynamic-batch", action="store_true", help="any batch size at run time")
    parser.add_argument("--device", default="cpu", help="torch device used while tracing (default cpu)")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help=f"skip the onnxruntime-vs-PyTorch check (tolerance {VERIFY_TOLERANCE})",
    )


def merging_config(args: argparse.Namespace) -> MergingConfig | None:
    """The token-merging settings the flags describe (the paper's schedule when none are given)."""
    if args.no_token_merging:
        return None
    if args.target_tokens is not None:
        return MergingConfig(
            token_schedule=[], target_tokens=args.target_tokens, target_layers=args.target_layers
        )
    if args.token_schedule is not None:
        return MergingConfig(token_schedule=args.token_schedule)
    return MergingConfig()


def run(args: argparse.Namespace) -> int:
    if not args.dynamic_batch and args.batch < 1:
        raise InputError(f"--batch must be >= 1, got {args.batch}")
    source = resolve_model(args.checkpoint, device=args.device)
    model = source.model
    schedule = apply_token_merging(model, merging_config(args))
    batch = None if args.dynamic_batch else args.batch
    info = export_onnx(
        model, args.onnx, batch=batch, source=source.description, mask_input=not args.no_mask_input
    )
    layers = len(model.backbone.blocks)
    merged = f", merged from {model.config.original_depth}" if model.config.merge_plan else ""
    print(
        f"wrote {info.path} (opset {ONNX_OPSET}, {info.seconds:.1f} s): {model.config.preset}, {layers} ViT "
        f"layers{merged}, token schedule {list(schedule) or 'none'}, inputs {list(info.io.inputs)}, "
        f"batch {'dynamic' if batch is None else batch}"
    )
    if not args.no_verify:
        diffs = verify_onnx(model, info.path)
        worst = max(diffs, key=lambda name: diffs[name])
        print(f"onnxruntime vs PyTorch: max |diff| {diffs[worst]:.2e} ({worst})")
        if diffs[worst] > VERIFY_TOLERANCE:
            raise ExportError(
                f"exported graph differs from PyTorch by {diffs[worst]:.2e} in {worst} "
                f"(tolerance {VERIFY_TOLERANCE})"
            )
    if source.embedded:
        print(f"WARNING: {EMBEDDED_WARNING}")
    return 0
