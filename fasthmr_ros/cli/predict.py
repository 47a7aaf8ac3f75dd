"""`fasthmr predict IMAGE`: one image -> result.json + overlay.png."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import EMBEDDED_WARNING, resolve_body_model, resolve_model
from fasthmr_ros.pipeline.camera import default_intrinsics, parse_camera_arg
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics, PersonResult
from fasthmr_ros.viz.overlay import draw_boxes, draw_skeleton, render_meshes
from fasthmr_ros.viz.skeletons import edges_for

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="input image (any format OpenCV reads)")
    parser.add_argument(
        "--checkpoint", help="HMR 2.0 / CameraHMR / fasthmr_ros checkpoint (default: found or embedded)"
    )
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl (default: 4D-Humans cache, else the stand-in body)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl for HMR 2.0's 44-joint set (default: 4D-Humans cache)")
    parser.add_argument(
        "--box",
        action="append",
        default=[],
        metavar="x1,y1,x2,y2",
        help="person box in pixels; repeat for several persons (default: the whole image)",
    )
    parser.add_argument("--camera", metavar="fx,fy,cx,cy", help="intrinsics (default: HMR 2.0's focal guess)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--out", required=True, help="output folder for result.json and overlay.png")


def parse_box(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise InputError(f"--box expects x1,y1,x2,y2, got {text!r}") from exc
    if len(values) != 4:
        raise InputError(f"--box expects 4 numbers x1,y1,x2,y2, got {text!r}")
    return values


def read_image_rgb(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"image file is empty: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot decode image {path} (not an image format OpenCV reads, or corrupt)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def person_json(p: PersonResult) -> dict[str, Any]:
    return {
        "track_id": p.track_id,
        "bbox": p.bbox.tolist(),
        "score": p.score,
        "betas": p.betas.tolist(),
        "global_orient": p.global_orient.tolist(),
        "body_pose": p.body_pose.tolist(),
        "transl_m": p.transl.tolist(),
        "pred_cam": p.pred_cam.tolist(),
        "joint_set": p.joint_set,
        "joints3d_m": p.joints3d.tolist(),
        "joints2d_px": p.joints2d.tolist(),
    }


def draw_overlay(
    image_rgb: np.ndarray, persons: list[PersonResult], faces: np.ndarray, camera: CameraIntrinsics
) -> np.ndarray:
    """Shaded, depth-ordered meshes + skeletons + boxes over the image (BGR out)."""
    canvas = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    meshes = [(p.vertices, faces) for p in persons if p.vertices is not None]
    canvas = render_meshes(canvas, meshes, camera.matrix())
    for p in persons:
        canvas = draw_skeleton(canvas, p.joints2d, edges_for(p.joint_set))
    if persons:
        canvas = draw_boxes(
            canvas, np.stack([p.bbox for p in persons]), [f"id {p.track_id}" for p in persons]
        )
    return canvas


def run(args: argparse.Namespace) -> int:
    image = read_image_rgb(args.image)
    H, W = image.shape[:2]
    boxes = np.array([parse_box(b) for b in args.box] or [[0, 0, W, H]], dtype=np.float64)
    camera = parse_camera_arg(args.camera, W, H) if args.camera else default_intrinsics(W, H)
    model_src = resolve_model(args.checkpoint, device=args.device)
    body_src = resolve_body_model(args.smpl, args.j19)
    estimator = MeshEstimator(model_src.model, body_src.body, device=args.device, return_vertices=True)

    start = time.perf_counter()
    persons = estimator.estimate(image, boxes, camera)
    elapsed_ms = (time.perf_counter() - start) * 1000

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    embedded = model_src.embedded or body_src.standin
    result = {
        "image": str(args.image),
        "width": W,
        "height": H,
        "camera": {
            "fx": camera.fx,
            "fy": camera.fy,
            "cx": camera.cx,
            "cy": camera.cy,
            "source": camera.source,
        },
        "model": model_src.description,
        "body_model": body_src.description,
        "joint_set": body_src.body.joint_set,
        "units": {"transl_m": "metres, camera optical frame", "joints2d_px": "pixels"},
        "inference_ms": round(elapsed_ms, 2),
        "persons": [person_json(p) for p in persons],
    }
    if embedded:
        result["warning"] = EMBEDDED_WARNING
    (out / "result.json").write_text(json.dumps(result, indent=1))
    overlay = draw_overlay(image, persons, body_src.body.faces, camera)
    cv2.imwrite(str(out / "overlay.png"), overlay)
    print(f"{len(persons)} person(s) in {elapsed_ms:.0f} ms -> {out / 'result.json'}, {out / 'overlay.png'}")
    if embedded:
        print(f"WARNING: {EMBEDDED_WARNING}")
    return 0
