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
from fasthmr_ros.config import BACKENDS, PRECISIONS, RuntimeConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import BackendError, Runner

log = logging.getLogger(__name__)

CPU_PRECISIONS = ("fp32", "bf16", "int8")
ORT_PRECISIONS = ("fp32", "int8")

# `auto` on a CPU: the paths in order of measured speed, fastest first (ViT-H, ECLM + Mask-ToMe,
# batch 1, one thread: `fasthmr bench --sections cpu_paths --threads 1`,
# docs/bench/vit_h_cpu_paths_b1_threads1.json). The first whose joints stay within
# JOINT_DEVIATION_BOUND_MM of fp32 torch on the loaded model is used.
CPU_PATH_ORDER: tuple[tuple[str, str], ...] = (
    ("onnxruntime", "int8"),
    ("cpu", "int8"),
    ("cpu", "bf16"),
    ("onnxruntime", "fp32"),
    ("cpu", "fp32"),
)
# Mean joint deviation (mm) from fp32 that `auto` accepts for speed; see docs/runtime.md for why.
JOINT_DEVIATION_BOUND_MM = 2.0
CHECK_CROPS = 2


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


def _offered_precision(requested: str, offered: tuple[str, ...], runner: str) -> tuple[str, str]:
    """The precision asked for when `runner` offers it, else fp32 with a note saying so."""
    if requested in offered:
        return requested, ""
    return "fp32", f" (precision {requested} asked for; {runner} runs {'/'.join(offered)})"


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
                cfg.device,
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
        why_not_gpu = no_gpu if wants_gpu else f"device is {cfg.device}"
        asked = "" if cfg.precision == "fp32" else f" (precision {cfg.precision} asked for; not on a CPU)"
        return BackendChoice(
            "cpu",
            "cpu",
            "fp32",
            f"auto: TensorRT unusable ({caps.tensorrt_reason}); {why_not_gpu}; on the CPU the fastest path "
            f"within {JOINT_DEVIATION_BOUND_MM} mm of fp32 is picked when the model loads" + asked,
        )
    if cfg.backend == "tensorrt":
        if not (caps.tensorrt_version and caps.gpu_name):
            raise BackendError(f"backend tensorrt asked for but unusable: {caps.tensorrt_reason}")
        return BackendChoice(
            "tensorrt",
            cfg.device if wants_gpu else "cuda",
            cfg.precision,
            f"tensorrt asked for: TensorRT {caps.tensorrt_version} on {caps.gpu_name}",
        )
    if cfg.backend == "torch":
        if wants_gpu:
            if not caps.gpu_name:
                raise BackendError(f"backend torch on {cfg.device} asked for, but {no_gpu}")
            return BackendChoice("torch", cfg.device, cfg.precision, f"torch asked for, on {caps.gpu_name}")
        precision, note = _offered_precision(cfg.precision, CPU_PRECISIONS, "the CPU path")
        return BackendChoice("torch", cfg.device, precision, f"torch asked for, on {cfg.device}" + note)
    if cfg.backend == "onnxruntime":
        on_gpu = wants_gpu and caps.ort_cuda and caps.gpu_name is not None
        where = f"CUDA provider on {caps.gpu_name}" if on_gpu else "CPU provider"
        precision, note = _offered_precision(
            cfg.precision, ("fp32",) if on_gpu else ORT_PRECISIONS, "onnxruntime"
        )
        return BackendChoice(
            "onnxruntime",
            cfg.device if on_gpu else "cpu",
            precision,
            f"onnxruntime asked for: {where}" + note,
        )
    precision, note = _offered_precision(cfg.precision, CPU_PRECISIONS, "the CPU path")
    return BackendChoice("cpu", "cpu", precision, "cpu asked for: torch on the CPU" + note)


def create_runner(
    cfg: RuntimeConfig, model: HMR, caps: Capabilities | None = None, body: BodyModel | None = None
) -> tuple[Runner, BackendChoice]:
    """The runner for `model` (configured: merged layers, token schedule) under `cfg`.

    ONNX and TensorRT backends export the model into the engine cache first (once per model).
    `auto` on a CPU tries the paths of CPU_PATH_ORDER on `model` itself and keeps the first whose
    joints (through `body`, default: the found SMPL or the stand-in) stay within the bound.
    """
    choice = choose_backend(cfg, caps or probe_capabilities())
    if cfg.backend == "auto" and choice.device == "cpu":
        runner, choice = fastest_cpu_path(cfg, model, body)
    else:
        runner = build_runner(choice, cfg, model)
    log.info(
        "inference backend: %s %s on %s. %s", choice.backend, choice.precision, choice.device, choice.reason
    )
    return runner, choice


def build_runner(choice: BackendChoice, cfg: RuntimeConfig, model: HMR) -> Runner:
    """The runner `choice` names, without any further decision."""
    cache_dir = Path(cfg.engine_cache_dir) if cfg.engine_cache_dir else paths.engines_dir()
    if choice.backend == "tensorrt":
        from fasthmr_ros.runtime.onnx_export import cached_export
        from fasthmr_ros.runtime.tensorrt import export_opset, import_tensorrt, tensorrt_runner

        opset = export_opset(import_tensorrt().__version__)
        onnx_path = cached_export(model, cache_dir, batch=cfg.batch, source=model.config.preset, opset=opset)
        return tensorrt_runner(
            onnx_path,
            choice.precision,
            cfg.batch,
            cache_dir,
            cfg.workspace_gb,
            cfg.int8_calibration,
            device=choice.device,
        )
    if choice.backend == "onnxruntime":
        from fasthmr_ros.runtime.onnx_export import cached_export
        from fasthmr_ros.runtime.onnxruntime_runner import OnnxRuntimeRunner

        onnx_path = cached_export(model, cache_dir, batch=None, source=model.config.preset)
        return OnnxRuntimeRunner(onnx_path, device=choice.device, precision=choice.precision)
    from fasthmr_ros.runtime.torch_backend import TorchRunner

    on_gpu = choice.device.startswith("cuda")
    return TorchRunner(
        model,
        choice.device,
        choice.precision,
        compile=cfg.compile,
        cuda_graphs=cfg.cuda_graphs and on_gpu,
        batch=cfg.batch,
    )


def fastest_cpu_path(
    cfg: RuntimeConfig, model: HMR, body: BodyModel | None = None
) -> tuple[Runner, BackendChoice]:
    """The first path of CPU_PATH_ORDER that builds here and keeps the joints of `model` within
    JOINT_DEVIATION_BOUND_MM of fp32 torch on CHECK_CROPS seeded crops; the reason lists the
    deviation of every path tried. Falls back to fp32 torch, which is the reference itself."""
    from fasthmr_ros.runtime.accuracy import joint_deviation_mm

    if body is None:
        from fasthmr_ros.models.default import resolve_body_model

        body = resolve_body_model().body
    crops = torch.randn(CHECK_CROPS, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    info = torch.zeros(CHECK_CROPS, 3) if model.needs_bbox_info else None
    with torch.inference_mode():
        reference = model.eval()(crops, bbox_info=info) if info is not None else model.eval()(crops)
    tried = []
    for backend, precision in CPU_PATH_ORDER:
        label = f"{backend}/{precision}"
        choice = BackendChoice(backend, "cpu", precision, "")
        if (backend, precision) == ("cpu", "fp32"):
            tried.append(f"{label}: the fp32 reference")
            return build_runner(choice, cfg, model), replace(choice, reason=_auto_reason(tried))
        try:
            runner = build_runner(choice, cfg, model)
            deviation = joint_deviation_mm(body, runner(crops, bbox_info=info), reference)
        except (FastHMRError, RuntimeError) as exc:
            tried.append(f"{label}: unusable ({exc})")
            continue
        if deviation <= JOINT_DEVIATION_BOUND_MM:
            tried.append(f"{label}: {deviation:.2f} mm")
            return runner, replace(choice, reason=_auto_reason(tried))
        tried.append(f"{label}: {deviation:.2f} mm, over the bound")
    raise BackendError(f"no CPU path in {CPU_PATH_ORDER} ends with the fp32 reference")


def _auto_reason(tried: list[str]) -> str:
    return (
        f"auto on the CPU: fastest measured path whose joints stay within {JOINT_DEVIATION_BOUND_MM} mm "
        f"of fp32 torch ({'; '.join(tried)})"
    )
