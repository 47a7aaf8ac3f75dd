"""Putting a pipeline's network on a backend runner, the same way for the node and `fasthmr eval`.

torch in fp32 runs the model object directly; every other choice (TensorRT, onnxruntime, torch
with autocast, bf16 or int8 weights, and `auto` on a CPU, which picks its path on the model) goes
through its `Runner`, plugged into the estimator so tracking, decoders and SMPL stay the same.
"""

from __future__ import annotations

import torch

from fasthmr_ros.config import RuntimeConfig
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.runtime.interface import Runner
from fasthmr_ros.runtime.select import BackendChoice, Capabilities, create_runner


class RunnerEstimator(MeshEstimator):
    """A MeshEstimator whose network call goes to a backend runner (TensorRT, onnxruntime, ...)."""

    def __init__(self, base: MeshEstimator, runner: Runner) -> None:
        # Not MeshEstimator.__init__, which would move the model back onto the device: the runner
        # runs the network, and the model stays where it was exported from.
        self.model, self.body, self.device = base.model, base.body, base.device
        self.crop_policy, self.return_vertices = base.crop_policy, base.return_vertices
        self.runner = runner

    def network(
        self, crops: torch.Tensor, info: torch.Tensor | None, **model_kwargs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        out = self.runner(crops, bbox_info=info, person_mask=model_kwargs.get("person_mask"))
        return {k: v.to(self.device) for k, v in out.items()}


def use_backend(
    pipeline: Pipeline, runtime: RuntimeConfig, choice: BackendChoice, caps: Capabilities
) -> BackendChoice:
    """Run `pipeline`'s network as `choice` says (from `choose_backend(runtime, caps)`); returns
    the final choice (for `auto` on a CPU, the path it picked and why)."""
    direct = choice.backend in ("torch", "cpu") and choice.precision == "fp32"
    auto_cpu = runtime.backend == "auto" and choice.device == "cpu"  # picks its path on the model
    if direct and not auto_cpu:
        return choice
    model = pipeline.estimator.model
    if choice.backend in ("tensorrt", "onnxruntime"):
        # Only the exported graph runs: keep the PyTorch model (~2.7 GB for ViT-H) off the GPU.
        model.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    runner, choice = create_runner(runtime, model, caps, pipeline.estimator.body)
    pipeline.estimator = RunnerEstimator(pipeline.estimator, runner)
    return choice
