"""Person crops exactly as HMR 2.0's demo makes them (docs/camera.md), batched.

Box -> centre and a square side: HMR 2.0 first widens or heightens the box to 192:256, then the
longer side is the square; CameraHMR takes the square on max(w, h). The square is warped to
256x256 with a zero border; large downscales are anti-aliased with a Gaussian first, as the
official code does (sigma = (d - 1) / 2 with d = side / 256 / 2, only when d > 1.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.hmr import CROP_SIZE, IMAGE_MEAN, IMAGE_STD

ASPECT_W, ASPECT_H = 192, 256
CROP_POLICIES = ("hmr2", "square")


@dataclass
class CropBatch:
    crops: torch.Tensor  # (P, 3, 256, 256) normalised RGB
    centers: np.ndarray  # (P, 2) box centres, pixels
    sizes: np.ndarray  # (P,) side of the square crop region, pixels
    boxes: np.ndarray  # (P, 4) the input boxes (clipped to finite values)

    def __len__(self) -> int:
        return len(self.sizes)

    def crop_to_image(self) -> np.ndarray:
        """(P, 2, 3) affine maps from 256-crop pixels back to image pixels."""
        scale = self.sizes / CROP_SIZE
        mats = np.zeros((len(self), 2, 3))
        mats[:, 0, 0] = scale
        mats[:, 1, 1] = scale
        mats[:, :, 2] = self.centers - scale[:, None] * CROP_SIZE / 2
        return mats


def validate_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(P, 4) x1,y1,x2,y2; rejects non-finite, empty and fully-outside boxes with a clear error."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if not np.all(np.isfinite(boxes[i])):
            raise InputError(f"box {i} has non-finite coordinates: {boxes[i].tolist()}")
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            raise InputError(f"box {i} has zero or negative size: {boxes[i].tolist()}")
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise InputError(f"box {i} {boxes[i].tolist()} lies outside the {width}x{height} image")
    return boxes


def box_center_size(boxes: np.ndarray, policy: str = "hmr2") -> tuple[np.ndarray, np.ndarray]:
    """(P, 4) -> centres (P, 2) and square sides (P,)."""
    if policy not in CROP_POLICIES:
        raise ValueError(f"crop policy {policy!r} not in {CROP_POLICIES}")
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    if policy == "hmr2":
        too_wide = h / w < ASPECT_H / ASPECT_W
        new_h = np.where(too_wide, np.maximum(w * ASPECT_H / ASPECT_W, h), h)
        new_w = np.where(too_wide, w, np.maximum(h * ASPECT_W / ASPECT_H, w))
        sizes = np.maximum(new_w, new_h)
    else:
        sizes = np.maximum(w, h)
    return centers, sizes


def _antialiased_region(image: np.ndarray, center: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Blur (when the official code would) only the region the crop reads; returns it and its origin."""
    d = size / CROP_SIZE / 2.0
    if d <= 1.1:
        return image, np.zeros(2)
    sigma = (d - 1) / 2
    radius = int(4.0 * sigma + 0.5)  # scipy/skimage truncate=4
    H, W = image.shape[:2]
    half = size / 2 + 2
    x0 = max(0, math.floor(center[0] - half) - radius)
    y0 = max(0, math.floor(center[1] - half) - radius)
    x1 = min(W, math.ceil(center[0] + half) + radius + 1)
    y1 = min(H, math.ceil(center[1] + half) + radius + 1)
    if x1 <= x0 or y1 <= y0:
        return image, np.zeros(2)
    region = image[y0:y1, x0:x1].astype(np.float32)
    # The region extends `radius` beyond what the crop reads, so every pixel the crop uses is blurred
    # exactly as a whole-image blur would (replicated borders only at the real image edges).
    blurred = cv2.GaussianBlur(
        region, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_REPLICATE
    )
    return blurred, np.array([x0, y0], dtype=np.float64)


def crop_persons(image_rgb: np.ndarray, boxes: np.ndarray, policy: str = "hmr2") -> CropBatch:
    """image (H, W, 3) uint8 RGB, boxes (P, 4) -> CropBatch of normalised 256x256 crops."""
    if image_rgb is None or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.size == 0:
        raise InputError(f"expected an (H, W, 3) RGB image, got shape {getattr(image_rgb, 'shape', None)}")
    H, W = image_rgb.shape[:2]
    boxes = validate_boxes(boxes, W, H)
    centers, sizes = box_center_size(boxes, policy)
    out = np.zeros((len(boxes), CROP_SIZE, CROP_SIZE, 3), dtype=np.float32)
    for i, (center, size) in enumerate(zip(centers, sizes, strict=True)):
        source, origin = _antialiased_region(image_rgb, center, size)
        s = CROP_SIZE / size
        cx, cy = center - origin
        M = np.array([[s, 0, CROP_SIZE / 2 - s * cx], [0, s, CROP_SIZE / 2 - s * cy]])
        out[i] = cv2.warpAffine(
            source,
            M,
            (CROP_SIZE, CROP_SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    mean = np.asarray(IMAGE_MEAN, dtype=np.float32).reshape(1, 3, 1, 1) * 255
    std = np.asarray(IMAGE_STD, dtype=np.float32).reshape(1, 3, 1, 1) * 255
    # Channels first, then normalise in place: the same float32 values as broadcasting over the
    # trailing 3-channel axis, about 5x faster (the per-frame crop budget is a few ms).
    chw = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    chw -= mean
    chw /= std
    crops = torch.from_numpy(chw)
    return CropBatch(crops=crops, centers=centers, sizes=sizes, boxes=boxes)
