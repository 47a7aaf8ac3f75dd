"""Choosing the inference backend (the node's `backend` parameter) and saying why.

`choose_backend` is a pure decision over what this machine offers (`Capabilities`), so the same
rules hold in tests, on a laptop and on a robot; `probe_capabilities` fills that in for real.
The returned reason is one sentence a person can act on: the node logs it at start-up and puts it
in its diagnostics.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import onnxruntime as ort
import torch

from fasthmr_ros.assets import paths
from fasthmr_ros.config import RuntimeConfig
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import BackendError, Runner

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "torch", "onnxruntime", "cpu")
PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Capabilities:
    """What this machine can run: GPU name (None without CUDA), TensorRT version (None when
    unusable) with the reason, and whether onnxruntime has its CUDA provider."""

    gpu_name: str | None
    tensorrt_version: str | None
    tensorrt_reason: str
    ort_cuda: bool


def probe_capabilities() -> Capabilities:
    from fasthmr_ros.runtime.tensorrt import tensorrt_status

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    version, reason = tensorrt_status()
    return Capabilities(gpu, version, reason, "CUDAExecutionProvider" in ort.get_available_providers())


@dataclass(frozen=True)
class BackendChoice:
    """backend: tensorrt | torch | onnxruntime | cpu (torch on the CPU)."""

    backend: str
    device: str
    precision: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _cpu_precision(requested: str) -> tuple[str, str]:
    if requested == "fp32":
        return "fp32", ""
    return "fp32", f" (precision {requested} asked for; the CPU path runs fp32)"


def choose_backend(cfg: RuntimeConfig, caps: Capabilities) -> BackendChoice:
    """Apply the rules: auto = TensorRT if usable, else torch on CUDA, else torch on the CPU.

    A backend named explicitly that cannot run here raises BackendError with the reason.
    """
    choice = _decide(cfg, caps)
    if cfg.cuda_graphs and choice.backend in ("torch", "cpu") and not choice.device.startswith("cuda"):
        choice = replace(choice, reason=choice.reason + "; cuda_graphs off (they need a CUDA device)")
    return choice


def _decide(cfg: RuntimeConfig, caps: Capabilities) -> BackendChoice:
    if cfg.backend not in BACKENDS:
        raise BackendError(f"backend {cfg.backend!r} is not one of {BACKENDS}")
    if cfg.precision not in PRECISIONS:
        raise BackendError(f"precision {cfg.precision!r} is not one of {PRECISIONS}")
    no_gpu = "torch sees no CUDA GPU"
    wants_gpu = cfg.device.startswith("cuda")
    if cfg.backend == "auto":
        if caps.tensorrt_version and caps.gpu_name and wants_gpu:
            return BackendChoice(
                "tensorrt",
                "cuda",
                cfg.precision,
                f"auto: TensorRT {caps.tensorrt_version} on {caps.gpu_name}",
            )
        if caps.gpu_name and wants_gpu:
            return BackendChoice(
                "torch",
                cfg.device,
                cfg.precision,
                f"auto: TensorRT unusable ({caps.tensorrt_reason}); torch on {caps.gpu_name}",
            )
        precision, note = _cpu_precision(cfg.precision)
        why_not_gpu = no_gpu if wants_gpu else f"device is {cfg.device}"
        return BackendChoice(
            "cpu",
            "cpu",
            precision,
            f"auto: TensorRT unusable ({caps.tensorrt_reason}); {why_not_gpu}; torch on the CPU" + note,
        )
    if cfg.backend == "tensorrt":
        if not (caps.tensorrt_version and caps.gpu_name):
            raise BackendError(f"backend tensorrt asked for but unusable: {caps.tensorrt_reason}")
        return BackendChoice(
            "tensorrt",
            "cuda",
            cfg.precision,
            f"tensorrt asked for: TensorRT {caps.tensorrt_version} on {caps.gpu_name}",
        )
    if cfg.backend == "torch":
        if wants_gpu:
            if not caps.gpu_name:
                raise BackendError(f"backend torch on {cfg.device} asked for, but {no_gpu}")
            return BackendChoice("torch", cfg.device, cfg.precision, f"torch asked for, on {caps.gpu_name}")
        precision, note = ("bf16", "") if cfg.precision == "bf16" else _cpu_precision(cfg.precision)
        return BackendChoice("torch", cfg.device, precision, f"torch asked for, on {cfg.device}" + note)
    if cfg.backend == "onnxruntime":
        on_gpu = wants_gpu and caps.ort_cuda and caps.gpu_name is not None
        where = f"CUDA provider on {caps.gpu_name}" if on_gpu else "CPU provider"
        note = (
            ""
            if cfg.precision == "fp32"
            else f" (precision {cfg.precision} asked for; onnxruntime runs fp32)"
        )
        return BackendChoice(
            "onnxruntime", "cuda" if on_gpu else "cpu", "fp32", f"onnxruntime asked for: {where}" + note
        )
    precision, note = _cpu_precision(cfg.precision)
    return BackendChoice("cpu", "cpu", precision, "cpu asked for: torch on the CPU" + note)


def create_runner(
    cfg: RuntimeConfig, model: HMR, caps: Capabilities | None = None
) -> tuple[Runner, BackendChoice]:
    """The runner for `model` (configured: merged layers, token schedule) under `cfg`.

    ONNX and TensorRT backends export the model into the engine cache first (once per model).
    """
    choice = choose_backend(cfg, caps or probe_capabilities())
    log.info(
        "inference backend: %s %s on %s. %s", choice.backend, choice.precision, choice.device, choice.reason
    )
    cache_dir = Path(cfg.engine_cache_dir) if cfg.engine_cache_dir else paths.engines_dir()
    if choice.backend == "tensorrt":
        from fasthmr_ros.runtime.onnx_export import cached_export
        from fasthmr_ros.runtime.tensorrt import tensorrt_runner

        onnx_path = cached_export(model, cache_dir, batch=cfg.batch, source=model.config.preset)
        runner: Runner = tensorrt_runner(
            onnx_path, choice.precision, cfg.batch, cache_dir, cfg.workspace_gb, cfg.int8_calibration
        )
    elif choice.backend == "onnxruntime":
        from fasthmr_ros.runtime.onnx_export import cached_export
        from fasthmr_ros.runtime.onnxruntime_runner import OnnxRuntimeRunner

        onnx_path = cached_export(model, cache_dir, batch=None, source=model.config.preset)
        runner = OnnxRuntimeRunner(onnx_path, device=choice.device)
    else:
        from fasthmr_ros.runtime.torch_backend import TorchRunner

        on_gpu = choice.device.startswith("cuda")
        runner = TorchRunner(
            model,
            choice.device,
            choice.precision,
            compile=cfg.compile,
            cuda_graphs=cfg.cuda_graphs and on_gpu,
            batch=cfg.batch,
        )
    return runner, choice
