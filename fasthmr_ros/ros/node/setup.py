"""The node's configure step without ROS: NodeConfig -> pipeline on the chosen backend.

Backend choice is `fasthmr_ros.runtime.select` (one sentence of reason, shown in diagnostics);
`fasthmr_ros.runtime.estimator.use_backend` puts the network on it.
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
    TrackerConfig,
    mirrored,
)
from fasthmr_ros.pipeline.core import Pipeline, build_pipeline
from fasthmr_ros.ros.node.params import check_config, vertices_needed
from fasthmr_ros.runtime.estimator import use_backend
from fasthmr_ros.runtime.select import BackendChoice, choose_backend, probe_capabilities

log = logging.getLogger(__name__)


@dataclass
class LoadedPipeline:
    pipeline: Pipeline
    backend: BackendChoice
    template_vertices: np.ndarray  # (V, 3) rest-pose body, for the latched shape_msgs/Mesh


def pipeline_config(cfg: NodeConfig, device: str) -> PipelineConfig:
    return PipelineConfig(
        **mirrored(cfg, PipelineConfig),
        device=device,
        tracker=TrackerConfig(**mirrored(cfg, TrackerConfig)),
        output_vertices=vertices_needed(cfg),
    )


def runtime_config(cfg: NodeConfig) -> RuntimeConfig:
    return RuntimeConfig(**mirrored(cfg, RuntimeConfig))


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
            **mirrored(cfg, DecoderConfig),
            diffusion_model=cfg.decoder_model if cfg.decoder == "diffusion" else "",
            genhmr_model=cfg.decoder_model if cfg.decoder == "genhmr" else "",
        )
    merging = MergingConfig() if cfg.token_merging else None
    pipeline = build_pipeline(pipeline_config(cfg, choice.device), decoder, merging)
    choice = use_backend(pipeline, runtime, choice, caps)
    log.info("backend %s (%s): %s", choice.backend, choice.precision, choice.reason)
    template = pipeline.estimator.body.smpl.v_template.detach().cpu().numpy()
    return LoadedPipeline(pipeline, choice, template)
