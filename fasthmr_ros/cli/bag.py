"""`fasthmr bag IN OUT`: process a rosbag2 recording into a rosbag2 with meshes and markers."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from fasthmr_ros.config import (
    DECODERS,
    BagConfig,
    DecoderConfig,
    GenHMRConfig,
    MergingConfig,
    PipelineConfig,
    load_yaml_section,
)
from fasthmr_ros.models.default import EMBEDDED_WARNING
from fasthmr_ros.pipeline.core import Pipeline, build_pipeline
from fasthmr_ros.ros.bag import STORAGES, BagProcessor, BagSummary
from fasthmr_ros.ros.bag.interrupt import RunInterruptedError, signals_raise
from fasthmr_ros.ros.bag.preview import PreviewVideo
from fasthmr_ros.samples.bag import write_sample_bag


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
    parser.add_argument(
        "--cameras",
        metavar="LIST",
        help="several cameras: namespaces (/front = /front/image_raw + /front/camera_info) or "
        "image:camera_info pairs, comma separated; outputs go to <topic>/<name>",
    )
    parser.add_argument(
        "--target-frame",
        metavar="FRAME",
        help="express 3D results in this frame using the bag's /tf and /tf_static (default: camera frame)",
    )
    parser.add_argument(
        "--tf-tolerance", type=float, metavar="S", help="accept transforms this far beyond the recorded ones"
    )
    parser.add_argument("--hri", action="store_true", help="also write ROS4HRI (REP-155) body topics and TF")
    parser.add_argument("--preview", metavar="OUT.mp4", help="also write a video with mesh overlays")
    parser.add_argument("--config", help="YAML file with `bag:` and `pipeline:` sections (flags override it)")
    parser.add_argument(
        "--checkpoint", help="HMR 2.0 / CameraHMR / fasthmr_ros checkpoint (default: found or embedded)"
    )
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl (default: 4D-Humans cache, else the stand-in body)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl for HMR 2.0's 44-joint set")
    parser.add_argument("--detector-model", help="Ultralytics YOLO detect/segment ONNX for person boxes")
    parser.add_argument("--device", help="torch device (cpu, cuda, ...; default: the config's, cpu)")
    parser.add_argument(
        "--decoder", choices=DECODERS, help="pose decoder (default: the config's, regression)"
    )
    parser.add_argument("--decoder-model", help="checkpoint of the chosen diffusion / GenHMR decoder")
    parser.add_argument(
        "--lookahead", type=int, help="diffusion decoder: frames of delay traded for smoothness (default 0)"
    )
    parser.add_argument(
        "--sample-steps", type=int, help="diffusion decoder: denoising steps (default 1, as in the paper)"
    )
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
        ("cameras", "cameras"),
        ("target_frame", "target_frame"),
        ("tf_tolerance", "tf_tolerance_s"),
    ):
        if getattr(args, flag) is not None:
            setattr(cfg, name, getattr(args, flag))
    cfg.use_default_intrinsics = cfg.use_default_intrinsics or args.default_intrinsics
    cfg.hri = cfg.hri or args.hri
    cfg.messages.publish_vertices = cfg.messages.publish_vertices or args.vertices
    cfg.messages.mesh_markers = cfg.messages.mesh_markers and not args.no_mesh_markers
    return cfg


def decoder_config(args: argparse.Namespace) -> DecoderConfig:
    """The YAML's `decoder:` section, with the decoder flags that were given overriding it."""
    cfg = load_yaml_section(args.config, DecoderConfig, "decoder") if args.config else DecoderConfig()
    if args.decoder:
        cfg.decoder = args.decoder
    if args.decoder_model:
        setattr(cfg, f"{cfg.decoder}_model", args.decoder_model)
    for name in ("lookahead", "sample_steps"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    return cfg


def pipeline_from_args(args: argparse.Namespace, cfg: PipelineConfig) -> Pipeline:
    """The shared `build_pipeline`, with flags overriding the YAML's `pipeline:`/`decoder:` sections."""
    for name in ("checkpoint", "smpl", "j19", "detector_model", "device"):
        if getattr(args, name):
            setattr(cfg, name, getattr(args, name))
    merging = load_yaml_section(args.config, MergingConfig, "merging") if args.config else MergingConfig()
    genhmr = load_yaml_section(args.config, GenHMRConfig, "genhmr") if args.config else GenHMRConfig()
    return build_pipeline(cfg, decoder_config(args), merging, genhmr)


def print_summary(summary: BagSummary, output: Path, preview: PreviewVideo | None) -> None:
    for line in summary.lines():
        print(line)
    print(f"output bag: {output}")
    if preview is not None:
        print(f"preview video: {preview.path} ({preview.frames} frames)")


def run_sample(out_dir: str | Path, checkpoint: str | None = None, smpl: str | None = None,
               device: str = "cpu", num_frames: int = 30) -> int:  # fmt: skip
    """The embedded-default bag demo: `out_dir/sample_bag` (generated once, then reused) ->
    `out_dir/humans_bag` + `out_dir/preview.mp4`. A previous `humans_bag` written here is
    replaced, so the demo can be run again."""
    out_dir = Path(out_dir)
    sample = out_dir / "sample_bag"
    if not (sample / "metadata.yaml").is_file():
        write_sample_bag(sample, num_frames=num_frames)
    output = out_dir / "humans_bag"
    if (output / "metadata.yaml").is_file():
        shutil.rmtree(output)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = [str(sample), str(output), "--preview", str(out_dir / "preview.mp4"), "--device", device]
    argv += ["--checkpoint", checkpoint] if checkpoint else []
    argv += ["--smpl", smpl] if smpl else []
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    cfg = bag_config(args)
    pipeline_cfg = (
        load_yaml_section(args.config, PipelineConfig, "pipeline") if args.config else PipelineConfig()
    )
    # Vertices are needed by the messages (mesh markers, vertex publishing) and by the preview.
    pipeline_cfg.output_vertices = cfg.messages.needs_vertices() or bool(args.preview)
    pipeline = pipeline_from_args(args, pipeline_cfg)
    preview = PreviewVideo(args.preview, fps=0.0, faces=pipeline.faces) if args.preview else None
    processor = BagProcessor(
        args.input,
        args.output,
        pipeline,
        faces=pipeline.faces,
        cfg=cfg,
        template_vertices=pipeline.estimator.body.smpl.v_template.cpu().numpy(),
        on_frame=preview.add if preview else None,
        progress=not args.no_progress,
    )
    if preview is not None:
        preview.fps = processor.image_rate()
    try:
        with signals_raise():
            summary = processor.run()
    except RunInterruptedError as exc:
        print(
            f"{exc}: {exc.frames_done} of {exc.frames_total} frames written to {args.output} "
            "(readable, marked incomplete in metadata.yaml custom_data)"
        )
        return exc.exit_code
    finally:
        if preview is not None:
            preview.close()
    print_summary(summary, Path(args.output), preview)
    if pipeline.embedded:
        print(EMBEDDED_WARNING)
    return 0 if summary.frames_out > 0 or summary.frames_in == 0 else 1
