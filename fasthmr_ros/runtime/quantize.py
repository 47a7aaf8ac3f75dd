"""int8 weights for the CPU: onnxruntime's dynamic quantizer on an exported graph, or torch's on
the model's Linear layers.

Why int8 on a CPU: at batch 1 a ViT-H forward is bound by reading weights (each block holds
~79 MB of fp32), not by arithmetic, and token merging does not shrink that. int8 weights are a
quarter of the bytes, and CPUs with VNNI multiply them natively. Weights are quantized per output
channel (one scale per row), activations per call (dynamic), so no calibration data is needed.
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from fasthmr_ros.runtime.interface import BackendError

ModuleT = TypeVar("ModuleT", bound=nn.Module)

log = logging.getLogger(__name__)

INT8_SUFFIX = ".int8.onnx"


def int8_onnx(onnx_path: str | Path) -> Path:
    """A per-channel int8 (dynamic) copy of `onnx_path` beside it, written once and reused.

    Only MatMul/Gemm weights are quantized: they are nearly all of the bytes, while LayerNorm,
    softmax and the merge arithmetic stay fp32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = Path(onnx_path)
    target = source.with_name(source.name.removesuffix(".onnx") + INT8_SUFFIX)
    if target.is_file():
        log.info("reusing int8 graph %s", target)
        return target
    log.info("quantizing %s -> %s (int8 weights, per channel)", source.name, target.name)
    partial = target.with_name(target.name + ".partial")
    quantize_dynamic(
        source,
        partial,
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm"],
    )
    partial.replace(target)
    return target


def int8_linears(model: ModuleT) -> ModuleT:
    """A copy of `model` whose Linear layers hold per-channel int8 weights (torch's dynamic quantizer).

    The copy shares nothing with `model`; everything but the Linear layers stays fp32.
    """
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - present in every supported torch
        raise BackendError(f"torch has no dynamic quantizer ({exc})") from exc
    if "fbgemm" not in torch.backends.quantized.supported_engines:
        raise BackendError("torch's int8 CPU kernels (fbgemm) are not in this build")
    torch.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        # torch marks torch.ao.quantization as moving to the torchao package; it still works here.
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear: per_channel_dynamic_qconfig})
