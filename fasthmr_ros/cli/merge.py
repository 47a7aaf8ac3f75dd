"""`fasthmr merge`: ECLM layer merging of a checkpoint, calibrated on the user's own data.

Writes the merged checkpoint (loads with `load_model` like any other), a JSON report of every
window tried, and a PNG of error against layer count.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from tqdm import tqdm

from fasthmr_ros.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", required=True, help="the unmerged HMR 2.0 / CameraHMR / fasthmr_ros checkpoint"
    )
    parser.add_argument(
        "--calib",
        required=True,
        help="calibration data: a labelled data-set folder (docs/accuracy.md) or .npz (docs/merging.md), "
        "or a folder of images, a video file or a rosbag2 (label-free: the unmerged model is the reference)",
    )
    parser.add_argument("--tau", type=float, default=0.1, help="allowed MPJPE increase in mm (paper: 0.1)")
    parser.add_argument("--out", required=True, help="merged checkpoint to write (.pt)")
    parser.add_argument("--report", help="JSON report path (default: OUT with .json)")
    parser.add_argument("--plot", help="PNG plot path (default: OUT with .png)")
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl (default: 4D-Humans cache, else the stand-in body)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl, needed for labels in HMR 2.0's 44-joint order")
    parser.add_argument("--limit", type=int, default=64, help="at most this many calibration frames")
    parser.add_argument("--every", type=int, default=1, help="unlabelled sources: keep every N-th frame")
    parser.add_argument("--topic", help="rosbag2 image topic (needed when the bag has several)")
    parser.add_argument(
        "--detector",
        help="YOLO ONNX model: crop unlabelled frames around the best person (default: the whole frame)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="crops per forward pass")
    parser.add_argument(
        "--cache-gb",
        type=float,
        default=2.0,
        help="memory for cached activations (speeds the search up; 0 disables)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


def run(args: argparse.Namespace) -> int:
    from fasthmr_ros.eclm.calibration import best_person_box, load_calibration
    from fasthmr_ros.eclm.merge import CalibrationEvaluator, apply_merge_plan, greedy_window_search
    from fasthmr_ros.eclm.report import plot_search, search_report, write_report
    from fasthmr_ros.models.checkpoint import load_model, save_checkpoint
    from fasthmr_ros.models.default import resolve_body_model

    if args.tau <= 0:
        raise InputError(f"--tau must be > 0 mm, got {args.tau}")
    out = Path(args.out)
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    plot_path = Path(args.plot) if args.plot else out.with_suffix(".png")
    model = load_model(args.checkpoint, device=args.device)
    body = resolve_body_model(args.smpl, args.j19)
    if body.standin:
        log.warning("calibrating with the stand-in body: the plan is only as good as its joints")
    crop_policy = "square" if model.needs_bbox_info else "hmr2"
    person_box = None
    if args.detector:
        from fasthmr_ros.pipeline.yolo import YoloOnnxDetector

        person_box = best_person_box(YoloOnnxDetector(args.detector))
    calib = load_calibration(
        args.calib, crop_policy, limit=args.limit, every=args.every, topic=args.topic, person_box=person_box
    )
    labelled = calib.joints is not None
    log.info("%d calibration crops, %s", len(calib), "labelled" if labelled else "label-free")

    depth = model.config.backbone.depth
    with torch.inference_mode():
        evaluator = CalibrationEvaluator(
            model, body.body, calib, args.batch_size, int(args.cache_gb * (1 << 30)), args.device
        )
    with tqdm(total=depth, desc="ECLM search", unit="eval") as bar:

        def evaluate(plan: list[tuple[int, int]]) -> float:
            error = evaluator(plan)
            bar.update()
            bar.set_postfix(plan=plan, mpjpe=f"{error:.3f}")
            return error

        result = greedy_window_search(depth, args.tau, evaluate)

    merged = apply_merge_plan(model.cpu(), result.plan)
    report = search_report(
        result,
        checkpoint=str(args.checkpoint),
        calibration=str(args.calib),
        calibration_frames=len(calib),
        mode="labelled" if labelled else "label-free",
        joint_set=evaluator.joint_set,
        body_model=body.description,
        merged_checkpoint=str(out),
    )
    save_checkpoint(merged, out, extra={"eclm": {k: v for k, v in report.items() if k != "trials"}})
    write_report(report, report_path)
    plot_search(result, plot_path, title=f"ECLM on {Path(args.checkpoint).name} (tau {args.tau:g} mm)")
    print(
        f"{depth} -> {result.final_layers} layers, plan {report['merge_plan']}, MPJPE "
        f"{result.base_error_mm:.3f} -> {result.final_error_mm:.3f} mm\n"
        f"wrote {out}, {report_path}, {plot_path}"
    )
    return 0
