"""`fasthmr bag IN OUT`: process a rosbag2 recording into a rosbag2 with meshes and markers."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fasthmr_ros.config import BagConfig, PipelineConfig, load_yaml_section
from fasthmr_ros.models.default import EMBEDDED_WARNING, resolve_body_model, resolve_model
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.yolo import YoloOnnxDetector
from fasthmr_ros.ros.bag import STORAGES, BagProcessor, BagSummary
from fasthmr_ros.ros.preview import PreviewVideo

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input rosbag2 (directory, .mcap or .db3)")
    parser.add_argument("output", help="output rosbag2 directory (must not exist)")
    parser.add_argument("--image-topic", help="Image or CompressedImage topic (default: the bag's only one)")
    parser.add_argument("--camera-info-topic", help="CameraInfo topic (default: next to the image topic)")
    parser.add_argument(
        "--detections-topic", help="vision_msgs/Detection2DArray boxes from an upstream detector"
    )
    parser.add_argument("--storage", choices=sorted(STORAGES), help="output storage (default: mcap)")
    parser.add_argument(
        "--slop", type=float, metavar="S", help="stamp pairing tolerance in seconds (default 0.05)"
    )
    parser.add_argument("--preview", metavar="OUT.mp4", help="also write a video with mesh overlays")
    parser.add_argument("--config", help="YAML file with `bag:` and `pipeline:` sections (flags override it)")
    parser.add_argument(
        "--checkpoint", help="HMR 2.0 / CameraHMR / fasthmr_ros checkpoint (default: found or embedded)"
    )
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl (default: 4D-Humans cache, else the stand-in body)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl for HMR 2.0's 44-joint set")
    parser.add_argument("--detector-model", help="Ultralytics YOLO detect/segment ONNX for person boxes")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    parser.add_argument(
        "--default-intrinsics",
        action="store_true",
        help="without a usable CameraInfo, use HMR 2.0's focal guess instead of skipping",
    )
    parser.add_argument("--vertices", action="store_true", help="put the 6890 vertices in every HumanMesh")
    parser.add_argument("--no-mesh-markers", action="store_true", help="skeleton markers only (smaller bags)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def bag_config(args: argparse.Namespace) -> BagConfig:
    cfg = load_yaml_section(args.config, BagConfig, "bag") if args.config else BagConfig()
    for flag, name in (
        ("image_topic", "image_topic"),
        ("camera_info_topic", "camera_info_topic"),
        ("detections_topic", "detections_topic"),
        ("storage", "storage"),
        ("slop", "slop_s"),
    ):
        if getattr(args, flag) is not None:
            setattr(cfg, name, getattr(args, flag))
    cfg.use_default_intrinsics = cfg.use_default_intrinsics or args.default_intrinsics
    cfg.messages.publish_vertices = cfg.messages.publish_vertices or args.vertices
    cfg.messages.mesh_markers = cfg.messages.mesh_markers and not args.no_mesh_markers
    return cfg


def build_pipeline(args: argparse.Namespace, cfg: PipelineConfig) -> tuple[Pipeline, MeshEstimator, bool]:
    """(pipeline, its estimator, whether the embedded default is in use)."""
    model = resolve_model(args.checkpoint, device=args.device)
    body = resolve_body_model(args.smpl, args.j19)
    estimator = MeshEstimator(model.model, body.body, device=args.device)
    detector = None
    if args.detector_model or cfg.detector_model:
        cfg.detector_model = args.detector_model or cfg.detector_model
        detector = YoloOnnxDetector(
            cfg.detector_model,
            task=cfg.detector_task,
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            person_class_ids=cfg.person_class_ids,
            input_size=cfg.detector_input_size,
            mask_threshold=cfg.mask_threshold,
        )
    return Pipeline(estimator, cfg, detector=detector), estimator, model.embedded or body.standin


def print_summary(summary: BagSummary, output: Path, preview: PreviewVideo | None) -> None:
    for line in summary.lines():
        print(line)
    print(f"output bag: {output}")
    if preview is not None:
        print(f"preview video: {preview.path} ({preview.frames} frames)")


def run(args: argparse.Namespace) -> int:
    cfg = bag_config(args)
    pipeline_cfg = (
        load_yaml_section(args.config, PipelineConfig, "pipeline") if args.config else PipelineConfig()
    )
    # Vertices are needed for mesh markers, the preview and vertex publishing.
    messages = cfg.messages
    pipeline_cfg.output_vertices = bool(messages.publish_vertices or messages.mesh_markers or args.preview)
    pipeline, estimator, embedded = build_pipeline(args, pipeline_cfg)
    preview = PreviewVideo(args.preview, fps=0.0, faces=pipeline.faces) if args.preview else None
    processor = BagProcessor(
        args.input,
        args.output,
        pipeline,
        faces=pipeline.faces,
        cfg=cfg,
        template_vertices=estimator.body.smpl.v_template.cpu().numpy(),
        on_frame=preview.add if preview else None,
        progress=not args.no_progress,
    )
    if preview is not None:
        preview.fps = processor.image_rate()
    try:
        summary = processor.run()
    finally:
        if preview is not None:
            preview.close()
    print_summary(summary, Path(args.output), preview)
    if embedded:
        print(EMBEDDED_WARNING)
    return 0 if summary.frames_out > 0 or summary.frames_in == 0 else 1
