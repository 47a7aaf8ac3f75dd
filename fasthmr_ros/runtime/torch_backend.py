"""PyTorch backend: the model itself, with the CUDA speed-ups that need no export.

- on CUDA, fp16/bf16 through autocast (weights stay fp32, so the same model object serves every
  precision; LayerNorm and softmax stay in fp32 under autocast, which keeps ViT-H stable in fp16);
- on the CPU, bf16 and int8 hold their own copy of the weights at that precision: a CPU forward at
  batch 1 is bound by reading weights, so casting fp32 weights on every call (autocast) would
  save nothing;
- optional `torch.compile`;
- optional CUDA-graph capture of the fixed-shape path: with a token schedule every shape is
  fixed, so one graph replays the whole forward with no per-kernel launch cost. The batch is then
  fixed too (`batch`); the base runner splits and pads.
"""

from __future__ import annotations

import copy
import logging

import torch

from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import (
    INPUT_BBOX_INFO,
    INPUT_CROPS,
    INPUT_PERSON_MASK,
    BackendError,
    Runner,
)
from fasthmr_ros.runtime.onnx_export import model_io

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PRECISIONS = (*DTYPES, "int8")
GRAPH_WARMUP_RUNS = 3


class TorchRunner(Runner):
    """HMR on a torch device at a chosen precision (outputs always float32)."""

    name = "torch"

    def __init__(
        self,
        model: HMR,
        device: str = "cpu",
        precision: str = "fp32",
        compile: bool = False,
        cuda_graphs: bool = False,
        batch: int = 1,
    ) -> None:
        if precision not in PRECISIONS:
            raise BackendError(f"precision {precision!r} is not one of {PRECISIONS}")
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendError(f"device {device} asked for, but torch sees no CUDA GPU")
        if dev.type == "cpu" and precision == "fp16":
            raise BackendError("fp16 on the CPU is not supported by autocast; use fp32, bf16 or int8")
        if dev.type == "cuda" and precision == "int8":
            raise BackendError("torch int8 runs on the CPU only; on a GPU use tensorrt int8")
        if cuda_graphs and dev.type != "cuda":
            raise BackendError("CUDA graphs need a CUDA device")
        if cuda_graphs and batch < 1:
            raise BackendError(f"CUDA graphs need a fixed batch >= 1, got {batch}")
        super().__init__(model_io(model, batch if cuda_graphs else None), precision, str(dev))
        self.model = _cpu_weights(model, precision) if dev.type == "cpu" else model.to(dev).eval()
        self._forward_model = torch.compile(self.model, dynamic=False) if compile else self.model
        self._dtype = DTYPES.get(precision, torch.float32)
        self._autocast = dev.type == "cuda" and precision != "fp32"
        self._input_dtype = self._dtype if dev.type == "cpu" else torch.float32
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_in: dict[str, torch.Tensor] = {}
        self._static_out: dict[str, torch.Tensor] = {}
        if cuda_graphs:
            self._capture(batch)

    def _forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        kwargs = {}
        if INPUT_PERSON_MASK in inputs:
            kwargs["person_mask"] = inputs[INPUT_PERSON_MASK] > 0.5
        if INPUT_BBOX_INFO in inputs:
            kwargs["bbox_info"] = inputs[INPUT_BBOX_INFO]
        dev_type = torch.device(self.device).type
        with torch.inference_mode(), torch.autocast(dev_type, dtype=self._dtype, enabled=self._autocast):
            out = self._forward_model(inputs[INPUT_CROPS].to(self._input_dtype), **kwargs)
        return {k: v.float() for k, v in out.items()}

    def _capture(self, batch: int) -> None:
        """Record one forward on static buffers; replays only copy inputs in and outputs out."""
        dev = torch.device(self.device)
        shapes = {
            INPUT_CROPS: (batch, 3, 256, 256),
            INPUT_PERSON_MASK: (batch, self.io.num_patches),
            INPUT_BBOX_INFO: (batch, 3),
        }
        self._static_in = {name: torch.zeros(shapes[name], device=dev) for name in self.io.inputs}
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            # Warm-up outside the graph: cuBLAS handles, autotuning, lazy allocations.
            for _ in range(GRAPH_WARMUP_RUNS):
                self._forward(self._static_in)
        torch.cuda.current_stream(dev).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._static_out = self._forward(self._static_in)
        self._graph = graph
        log.info("captured a CUDA graph for batch %d on %s", batch, dev)

    def _run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        dev = torch.device(self.device)
        if self._graph is None:
            return self._forward({k: v.to(dev, non_blocking=True) for k, v in inputs.items()})
        for name, buf in self._static_in.items():
            buf.copy_(inputs[name], non_blocking=True)
        self._graph.replay()
        return {k: v.clone() for k, v in self._static_out.items()}


def _cpu_weights(model: HMR, precision: str) -> HMR:
    """The model as it runs on the CPU at `precision`: itself for fp32, else a converted copy."""
    model = model.eval()
    if precision == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if precision == "int8":
        from fasthmr_ros.runtime.quantize import int8_linears

        return int8_linears(model)
    return model
