"""Camera maths: intrinsics, crop camera -> full-image translation, projection (docs/camera.md).

HMR 2.0 predicts a weak-perspective crop camera (s, tx, ty) for a virtual focal of 5000 px on a
256 crop. For the full image with focal f and principal point (px, py), a box of centre (cx, cy)
and side b: bs = b*s, tz = 2 f / bs, tx' = tx + 2 (cx - px) / bs, ty' = ty + 2 (cy - py) / bs.
With fx != fy we use fx for depth and scale the vertical offset by fx/fy so the box centre still
projects to (cx, cy).
"""

from __future__ import annotations

import numpy as np
import torch

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.hmr import CROP_FOCAL, CROP_SIZE
from fasthmr_ros.pipeline.result import CameraIntrinsics


def default_intrinsics(width: int, height: int) -> CameraIntrinsics:
    """HMR 2.0's demo camera: f = 5000/256 * max(W, H), principal point at the image centre."""
    f = CROP_FOCAL / CROP_SIZE * max(width, height)
    return CameraIntrinsics(f, f, width / 2.0, height / 2.0, width, height, source="hmr2_default")


def intrinsics_from_k(k: np.ndarray | list[float], width: int, height: int) -> CameraIntrinsics:
    """CameraInfo.k (9 values, row-major) -> intrinsics.

    An all-zero K means an uncalibrated camera (the CameraInfo convention); it and any other
    unusable K raise InputError rather than silently guessing a focal length.
    """
    K = np.asarray(k, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise InputError(f"CameraInfo K must have 9 values, got {K.size}")
    if width <= 0 or height <= 0:
        raise InputError(f"CameraInfo has no image size ({width}x{height})")
    if not np.all(np.isfinite(K)):
        raise InputError("CameraInfo K has non-finite values")
    if not np.any(K):
        raise InputError(
            "CameraInfo K is all zeros (uncalibrated camera): calibrate it or set use_default_intrinsics"
        )
    fx, fy, cx, cy = K[0], K[4], K[2], K[5]
    if fx <= 0 or fy <= 0:
        raise InputError(f"CameraInfo K has non-positive focal lengths fx={fx}, fy={fy}")
    return CameraIntrinsics(float(fx), float(fy), float(cx), float(cy), int(width), int(height))


def parse_camera_arg(text: str, width: int, height: int) -> CameraIntrinsics:
    """'fx,fy,cx,cy' (CLI form) -> intrinsics."""
    try:
        fx, fy, cx, cy = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"--camera expects fx,fy,cx,cy (4 numbers), got {text!r}") from exc
    return intrinsics_from_k([fx, 0, cx, 0, fy, cy, 0, 0, 1], width, height)


def crop_cam_to_full(
    pred_cam: torch.Tensor, centers: torch.Tensor, sizes: torch.Tensor, cam: CameraIntrinsics
) -> torch.Tensor:
    """pred_cam (B,3) = (s, tx, ty), centers (B,2), sizes (B,) -> translation (B,3) in metres."""
    bs = sizes * pred_cam[:, 0] + 1e-9
    tz = 2 * cam.fx / bs
    tx = pred_cam[:, 1] + 2 * (centers[:, 0] - cam.cx) / bs
    ty = pred_cam[:, 2] + 2 * (centers[:, 1] - cam.cy) * (cam.fx / cam.fy) / bs
    return torch.stack([tx, ty, tz], dim=-1)


def project(points: torch.Tensor, cam: CameraIntrinsics) -> torch.Tensor:
    """(..., 3) camera-frame points -> (..., 2) pixels."""
    z = points[..., 2:3].clamp_min(1e-6)
    xy = points[..., :2] / z
    return torch.stack([xy[..., 0] * cam.fx + cam.cx, xy[..., 1] * cam.fy + cam.cy], dim=-1)


def bbox_info(centers: torch.Tensor, sizes: torch.Tensor, cam: CameraIntrinsics) -> torch.Tensor:
    """CameraHMR's head input (B,3) = [(cx - W/2)/f, (cy - H/2)/f, b/f] with f = fx."""
    f = cam.fx
    return torch.stack(
        [(centers[:, 0] - cam.width / 2) / f, (centers[:, 1] - cam.height / 2) / f, sizes / f], dim=-1
    ).float()
