"""onnxruntime backend: runs an exported graph on the CPU, or on CUDA where that provider exists."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import INPUT_BBOX_INFO, INPUT_PERSON_MASK, BackendError, Runner
from fasthmr_ros.runtime.onnx_export import read_model_io

log = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def ort_providers(device: str) -> list[str | tuple[str, dict[str, int]]]:
    """CUDA first when asked for and installed (onnxruntime-gpu), on the device index asked for
    (`cuda:1`), the CPU always as the fallback."""
    available = ort.get_available_providers()
    if device.startswith("cuda") and CUDA_PROVIDER in available:
        index = torch.device(device).index
        return [(CUDA_PROVIDER, {"device_id": index or 0}), CPU_PROVIDER]
    return [CPU_PROVIDER]


class OnnxRuntimeRunner(Runner):
    """Exported graph under onnxruntime: fp32, or int8 weights (a quantized copy of the graph)."""

    name = "onnxruntime"

    def __init__(
        self, onnx_path: str | Path, device: str = "cpu", threads: int | None = None, precision: str = "fp32"
    ) -> None:
        if precision not in ("fp32", "int8"):
            raise BackendError(f"onnxruntime runs fp32 or int8, not {precision!r}")
        io = read_model_io(onnx_path)
        if precision == "int8":
            from fasthmr_ros.runtime.quantize import int8_onnx

            onnx_path = int8_onnx(onnx_path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # As many threads as torch uses (the node's cpu_threads sets both), so paths compare fairly.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        # Idle worker threads sleep instead of spinning: a node shares its CPU with the rest of the
        # pipeline (and a benchmark with the paths it interleaves), which spinning would starve.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ort_providers(device)
        self.session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=providers)
        used = self.session.get_providers()[0]
        super().__init__(io, precision, "cuda" if used == CUDA_PROVIDER else "cpu")
        self.path = Path(onnx_path)
        log.info("onnxruntime session on %s for %s", used, onnx_path)

    def _run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        feed = {
            name: np.ascontiguousarray(inputs[name].cpu().numpy(), dtype=np.float32)
            for name in self.io.inputs
        }
        outs = self.session.run(list(self.io.outputs), feed)
        return {name: torch.from_numpy(value) for name, value in zip(self.io.outputs, outs, strict=True)}


def verify_onnx(model: HMR, onnx_path: str | Path, batch: int = 1, seed: int = 0) -> dict[str, float]:
    """Max |ONNX - PyTorch| per output on random crops (and a box-shaped person mask)."""
    io = read_model_io(onnx_path)
    batch = io.batch or batch
    gen = torch.Generator().manual_seed(seed)
    crops = torch.randn(batch, 3, 256, 256, generator=gen)
    mask = torch.zeros(batch, io.num_patches)
    mask[:, io.num_patches // 4 : 3 * io.num_patches // 4] = 1.0
    bbox_info = torch.randn(batch, 3, generator=gen) * 0.1
    got = OnnxRuntimeRunner(onnx_path)(crops.numpy(), bbox_info.numpy(), person_mask=mask.numpy())
    kwargs = {}
    if INPUT_PERSON_MASK in io.inputs:
        kwargs["person_mask"] = mask > 0.5
    if INPUT_BBOX_INFO in io.inputs:
        kwargs["bbox_info"] = bbox_info
    device = next(model.parameters()).device
    with torch.no_grad():
        ref = model(crops.to(device), **{k: v.to(device) for k, v in kwargs.items()})
    return {k: float(np.abs(got[k] - ref[k].float().cpu().numpy()).max()) for k in io.outputs}
