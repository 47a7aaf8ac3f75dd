"""Labelled video sequences -> feature sequences (layout (b) of docs/decoders.md).

The image-conditioned decoder stages learn from what the base model actually produces, so
features come from running the (possibly layer-merged) network on each labelled frame, crop for
crop exactly as the live pipeline does.

Labels layout, one npz per sequence and person:
    images (T,) str      frame image paths, relative to the npz's folder or absolute
    boxes (T, 4)         the person's box x1, y1, x2, y2 in pixels
    global_orient        (T, 3) axis-angle or (T, 3, 3): ground-truth root, camera frame
    body_pose            (T, 69) axis-angle or (T, 23, 3, 3)
    betas                (T, 10) or (10,)
    fps                  scalar
    camera (optional)    (4,) or (T, 4) fx, fy, cx, cy (default: HMR 2.0's focal guess)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from fasthmr_ros.decoders.data import NUM_BETAS, NUM_BODY_JOINTS, FeatureSequence
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.npz import open_npz
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics


def _rotations(path: Path, name: str, value: np.ndarray, joints: int, count: int) -> np.ndarray:
    """Axis-angle (T, 3*joints) or matrices (T, joints, 3, 3) -> (T, joints, 3, 3)."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape == (count, 3 * joints):
        return Rotation.from_rotvec(value.reshape(-1, 3)).as_matrix().reshape(count, joints, 3, 3)
    if value.reshape(count, -1).shape[1] == 9 * joints:
        return value.reshape(count, joints, 3, 3)
    raise InputError(
        f"{path}: {name} must be (T, {3 * joints}) axis-angle or (T, {joints}, 3, 3), got {value.shape}"
    )


def read_labels(path: str | Path) -> dict[str, Any]:
    """Read and check one labels npz; returns absolute image paths and rotation matrices."""
    path = Path(path)
    with open_npz(path) as npz:
        data = dict(npz)
    missing = sorted({"images", "boxes", "global_orient", "body_pose", "betas", "fps"} - set(data))
    if missing:
        raise InputError(f"{path}: labels lack {missing} (layout in fasthmr_ros/pipeline/extract.py)")
    images = [Path(str(p)) for p in np.asarray(data["images"]).reshape(-1)]
    count = len(images)
    boxes = np.asarray(data["boxes"], dtype=np.float64)
    if count == 0 or boxes.shape != (count, 4):
        raise InputError(f"{path}: boxes must be (T, 4) with T = {count} images, got {boxes.shape}")
    betas = np.broadcast_to(np.asarray(data["betas"], dtype=np.float64)[..., :NUM_BETAS], (count, NUM_BETAS))
    camera = data.get("camera")
    if camera is not None:
        camera = np.broadcast_to(np.asarray(camera, dtype=np.float64), (count, 4))
    return {
        "images": [p if p.is_absolute() else path.parent / p for p in images],
        "boxes": boxes,
        "global_orient": _rotations(path, "global_orient", data["global_orient"], 1, count)[:, 0],
        "body_pose": _rotations(path, "body_pose", data["body_pose"], NUM_BODY_JOINTS, count),
        "betas": betas.copy(),
        "fps": float(data["fps"]),
        "camera": camera,
    }


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read frame image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@torch.inference_mode()
def extract_sequence(
    labels_path: str | Path,
    estimator: MeshEstimator,
    body_model: BodyModel | None = None,
    keep_image_tokens: bool = False,
    progress: Callable[[], None] | None = None,
) -> FeatureSequence:
    """Run the base model over one labelled sequence, frame by frame (each frame has its own
    image and may have its own camera). `body_model` (a real SMPL) adds ground-truth joints."""
    labels = read_labels(labels_path)
    outputs: dict[str, list[np.ndarray]] = {}
    for i, image_path in enumerate(labels["images"]):
        image = _read_rgb(image_path)
        crop = estimator.prepare(image, labels["boxes"][i : i + 1])
        out = estimator.infer(crop, _camera(labels["camera"], i, image.shape))
        for key, value in out.items():
            outputs.setdefault(key, []).append(value.float().cpu().numpy())
        if progress is not None:
            progress()
    cat = {key: np.concatenate(values) for key, values in outputs.items()}
    keypoints = None
    if "keypoints_2d" in cat:
        kp = cat["keypoints_2d"]
        keypoints = np.concatenate([kp, np.ones((*kp.shape[:2], 1), kp.dtype)], axis=-1)
    joints3d = None
    if body_model is not None:
        gt = body_model(
            torch.as_tensor(labels["global_orient"][:, None], dtype=torch.float32),
            torch.as_tensor(labels["body_pose"], dtype=torch.float32),
            torch.as_tensor(labels["betas"], dtype=torch.float32),
        )
        joints3d = gt.smpl_joints.numpy()
    return FeatureSequence(
        head_token=cat["head_token"],
        global_orient=labels["global_orient"].astype(np.float32),
        body_pose=labels["body_pose"].astype(np.float32),
        betas=labels["betas"].astype(np.float32),
        pred_global_orient=cat["global_orient"][:, 0],
        pred_body_pose=cat["body_pose"],
        pred_betas=cat["betas"],
        pred_cam=cat["pred_cam"],
        fps=labels["fps"],
        image_tokens=cat["image_tokens"].astype(np.float16) if keep_image_tokens else None,
        joints3d=joints3d,
        keypoints2d=keypoints,
        name=Path(labels_path).stem,
    )


def _camera(camera: np.ndarray | None, index: int, shape: tuple[int, ...]) -> CameraIntrinsics:
    height, width = shape[:2]
    if camera is None:
        return default_intrinsics(width, height)
    fx, fy, cx, cy = (float(v) for v in camera[index])
    return CameraIntrinsics(fx, fy, cx, cy, width, height, source="labels")
