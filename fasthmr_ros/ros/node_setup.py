"""The node's configure step without ROS: NodeConfig -> pipeline on the chosen backend.

Backend choice is `fasthmr_ros.runtime.select` (one sentence of reason, shown in diagnostics).
torch in fp32 without compile runs the model object directly; every other backend (TensorRT,
onnxruntime, torch with autocast) goes through its `Runner`, plugged into the pipeline's
estimator so tracking, decoders and SMPL stay the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from fasthmr_ros.config import (
    DecoderConfig,
    MergingConfig,
    NodeConfig,
    PipelineConfig,
    RuntimeConfig,
)
from fasthmr_ros.pipeline.core import Pipeline, build_pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.ros.node_params import check_config, vertices_needed
from fasthmr_ros.runtime.interface import Runner
from fasthmr_ros.runtime.select import BackendChoice, choose_backend, create_runner, probe_capabilities

log = logging.getLogger(__name__)


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


@dataclass
class LoadedPipeline:
    pipeline: Pipeline
    backend: BackendChoice
    template_vertices: np.ndarray  # (V, 3) rest-pose body, for the latched shape_msgs/Mesh


def pipeline_config(cfg: NodeConfig, device: str) -> PipelineConfig:
    pipe = PipelineConfig(
        checkpoint=cfg.checkpoint or None,
        smpl=cfg.smpl or None,
        j19=cfg.j19 or None,
        device=device,
        detection=cfg.detection,
        detector_model=cfg.detector_model or None,
        detect_every=cfg.detect_every,
        score_threshold=cfg.score_threshold,
        nms_iou=cfg.nms_iou,
        min_box_size=cfg.min_box_size,
        max_persons=cfg.max_persons,
        history_window=cfg.history_window,
        output_vertices=vertices_needed(cfg),
    )
    pipe.tracker.iou_threshold = cfg.tracker_iou_threshold
    pipe.tracker.max_age = cfg.tracker_max_age
    return pipe


def runtime_config(cfg: NodeConfig) -> RuntimeConfig:
    return RuntimeConfig(
        backend=cfg.backend,
        precision=cfg.precision,
        device=cfg.device,
        engine_cache_dir=cfg.engine_cache_dir or None,
    )


def load_pipeline(cfg: NodeConfig) -> LoadedPipeline:
    """Check the configuration, pick the backend, load model, body, detector and decoder."""
    cfg = check_config(cfg)
    if cfg.cpu_threads > 0:
        torch.set_num_threads(cfg.cpu_threads)
    runtime = runtime_config(cfg)
    caps = probe_capabilities()
    choice = choose_backend(runtime, caps)
    decoder = None
    if cfg.decoder != "regression":
        decoder = DecoderConfig(
            decoder=cfg.decoder,
            diffusion_model=cfg.decoder_model if cfg.decoder == "diffusion" else "",
            genhmr_model=cfg.decoder_model if cfg.decoder == "genhmr" else "",
            lookahead=cfg.lookahead,
            sample_steps=cfg.sample_steps,
        )
    merging = MergingConfig() if cfg.token_merging else None
    pipeline = build_pipeline(pipeline_config(cfg, choice.device), decoder, merging)
    direct = choice.backend in ("torch", "cpu") and choice.precision == "fp32"
    auto_cpu = runtime.backend == "auto" and choice.device == "cpu"  # picks its path on the model
    if auto_cpu or not direct:
        model = pipeline.estimator.model
        if choice.backend in ("tensorrt", "onnxruntime"):
            # Only the exported graph runs: keep the PyTorch model (~2.7 GB for ViT-H) off the GPU.
            model.to("cpu")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        runner, choice = create_runner(runtime, model, caps, pipeline.estimator.body)
        pipeline.estimator = RunnerEstimator(pipeline.estimator, runner)
    log.info("backend %s (%s): %s", choice.backend, choice.precision, choice.reason)
    template = pipeline.estimator.body.smpl.v_template.detach().cpu().numpy()
    return LoadedPipeline(pipeline, choice, template)
