"""Person masks per crop -> the (B, N) patch labels Mask-ToMe protects.

Three sources, all brought into the model's crop (the square crop the backbone sees, before
its column slice) and then labelled with one rule:

- a segmentation mask in image coordinates (a YOLO-seg instance mask or an upstream topic),
  warped with the crop's image->crop affine;
- the detection box alone (its four corners through the same affine, filled);
- the previous frame's mesh of a tracked person, projected with the camera intrinsics and
  filled triangle by triangle, then grown by a few pixels to cover the motion since.

Labelling rule: the backbone keeps the middle `img_width` columns of the square crop and its
patch embedding is a stride-`patch` convolution with `padding` zero pixels, so patch (i, j) sees
crop rows [16i - 2, 16i + 14) and kept columns [16j - 2, 16j + 14). A patch is a person patch
when the person covers at least `threshold` of those 16 x 16 pixels (padding counts as
background). Labels are in raster order, matching the token order of the backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from fasthmr_ros.config import BackboneConfig, MergingConfig
from fasthmr_ros.errors import InputError

MASK_SOURCES = ("auto", "segmentation", "silhouette", "box", "none")


def patch_grid(backbone: BackboneConfig) -> tuple[int, int]:
    """Token grid (rows, cols) of the padded stride-`patch` patch embedding (16 x 12 for ViTPose)."""
    p, pad = backbone.patch_size, backbone.patch_padding
    return (backbone.img_height + 2 * pad - p) // p + 1, (backbone.img_width + 2 * pad - p) // p + 1


def patch_labels(crop_masks: torch.Tensor, backbone: BackboneConfig, threshold: float) -> torch.Tensor:
    """(B, S, S) person coverage in [0, 1] on the square crop -> (B, N) bool person patches."""
    if crop_masks.dim() != 3 or crop_masks.shape[1] != crop_masks.shape[2]:
        raise InputError(f"crop masks must be (B, S, S) square, got {tuple(crop_masks.shape)}")
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"mask threshold must lie in (0, 1], got {threshold}")
    size = crop_masks.shape[-1]
    if size != backbone.img_height:
        side = (backbone.img_height, backbone.img_height)
        crop_masks = F.interpolate(crop_masks[:, None].float(), size=side, mode="area")[:, 0]
    margin = (backbone.img_height - backbone.img_width) // 2
    kept = crop_masks[:, :, margin : margin + backbone.img_width].float()
    pad = backbone.patch_padding
    coverage = F.avg_pool2d(F.pad(kept, (pad, pad, pad, pad))[:, None], backbone.patch_size)[:, 0]
    return (coverage >= threshold - 1e-6).flatten(1)


def warp_to_crop(mask: np.ndarray, image_to_crop: np.ndarray, crop_size: int) -> np.ndarray:
    """Image-space mask (H, W), bool or 0..1 -> (crop_size, crop_size) float32 coverage."""
    if mask.ndim != 2:
        raise InputError(f"segmentation mask must be (H, W), got shape {mask.shape}")
    return cv2.warpAffine(
        mask.astype(np.float32),
        np.asarray(image_to_crop, dtype=np.float64),
        (crop_size, crop_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def _to_crop_points(points_xy: np.ndarray, image_to_crop: np.ndarray) -> np.ndarray:
    A = np.asarray(image_to_crop, dtype=np.float64)
    return points_xy @ A[:, :2].T + A[:, 2]


_SUBPIXEL_BITS = 4  # cv2 fill functions take fixed-point coordinates


def _fixed_point(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int32)


def box_to_crop(box: np.ndarray, image_to_crop: np.ndarray, crop_size: int) -> np.ndarray:
    """Detection box (x1, y1, x2, y2) in image pixels -> filled (crop_size, crop_size) float32 mask."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    if not (x2 > x1 and y2 > y1):
        raise InputError(f"degenerate box {box}")
    corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    out = np.zeros((crop_size, crop_size), np.float32)
    cv2.fillConvexPoly(out, _fixed_point(_to_crop_points(corners, image_to_crop)), 1.0, shift=_SUBPIXEL_BITS)
    return out


def silhouette_to_crop(
    vertices_cam: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    image_to_crop: np.ndarray,
    crop_size: int,
    dilate_px: int = 0,
) -> np.ndarray:
    """A mesh in the camera frame (V, 3) metres -> its filled silhouette in the crop.

    Triangles with a vertex behind the camera are skipped (they cannot be projected).
    """
    v = np.asarray(vertices_cam, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    z = v[:, 2]
    in_front = z > 1e-6
    uv = np.stack(
        [
            K[0, 0] * v[:, 0] / np.where(in_front, z, 1) + K[0, 2],
            K[1, 1] * v[:, 1] / np.where(in_front, z, 1) + K[1, 2],
        ],
        axis=1,
    )
    crop_uv = _to_crop_points(uv, image_to_crop)
    tris = np.asarray(faces, dtype=np.int64)
    tris = tris[in_front[tris].all(axis=1)]
    out: np.ndarray = np.zeros((crop_size, crop_size), np.float32)
    if len(tris):
        cv2.fillPoly(out, list(_fixed_point(crop_uv[tris])), 1.0, shift=_SUBPIXEL_BITS)
    if dilate_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        out = cv2.dilate(out, kernel)
    return out


@dataclass
class Silhouette:
    """The previous frame's mesh of a tracked person, in the current camera frame."""

    vertices: np.ndarray  # (V, 3) metres, camera optical frame
    faces: np.ndarray  # (F, 3)
    K: np.ndarray  # (3, 3) intrinsics of the current image


@dataclass
class CropMaskInput:
    """What is known about one person crop; the box is always there, the rest may be missing."""

    image_to_crop: np.ndarray  # (2, 3) affine, image pixels -> crop pixels
    box: np.ndarray  # (4,) x1, y1, x2, y2 image pixels
    segmentation: np.ndarray | None = None  # (H, W) image-space person mask
    silhouette: Silhouette | None = None


def crop_mask(item: CropMaskInput, source: str, crop_size: int, dilate_px: int = 0) -> np.ndarray:
    """One crop's person coverage (crop_size, crop_size) from the chosen source.

    `auto` takes the best available: segmentation, else the tracked silhouette, else the box.
    An explicitly chosen source that is missing for this person falls back to the box.
    """
    if source not in MASK_SOURCES or source == "none":
        raise InputError(f"mask source {source!r} is not one of {MASK_SOURCES[:-1]}")
    if source in ("auto", "segmentation") and item.segmentation is not None:
        return warp_to_crop(item.segmentation, item.image_to_crop, crop_size)
    if source in ("auto", "silhouette") and item.silhouette is not None:
        s = item.silhouette
        return silhouette_to_crop(s.vertices, s.faces, s.K, item.image_to_crop, crop_size, dilate_px)
    return box_to_crop(item.box, item.image_to_crop, crop_size)


def person_patch_mask(
    items: list[CropMaskInput], cfg: MergingConfig, backbone: BackboneConfig
) -> torch.Tensor | None:
    """A batch of crops -> (B, N) bool person-patch labels, or None for plain ToMe (`none`)."""
    if cfg.mask_source == "none":
        return None
    size = backbone.img_height
    masks = [crop_mask(item, cfg.mask_source, size, cfg.silhouette_dilate_px) for item in items]
    if not masks:
        rows, cols = patch_grid(backbone)
        return torch.zeros(0, rows * cols, dtype=torch.bool)
    return patch_labels(torch.from_numpy(np.stack(masks)), backbone, cfg.mask_threshold)
