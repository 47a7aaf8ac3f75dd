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
)
from fasthmr_ros.pipeline.core import Pipeline, build_pipeline
from fasthmr_ros.ros.node_params import check_config, vertices_needed
from fasthmr_ros.runtime.estimator import use_backend
from fasthmr_ros.runtime.select import BackendChoice, choose_backend, probe_capabilities

log = logging.getLogger(__name__)


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
    choice = use_backend(pipeline, runtime, choice, caps)
    log.info("backend %s (%s): %s", choice.backend, choice.precision, choice.reason)
    template = pipeline.estimator.body.smpl.v_template.detach().cpu().numpy()
    return LoadedPipeline(pipeline, choice, template)
