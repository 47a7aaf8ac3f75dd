"""Person detections and where they come from between detector runs.

A `Detection` is the one currency of every source (upstream `vision_msgs` boxes, the built-in
ONNX detector in `pipeline/yolo.py`, a fixed region, boxes propagated from the previous frame's
meshes), so the tracker and the crop code never care which one produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from fasthmr_ros.errors import InputError

PERSON_CLASS_ID = 0  # COCO "person": what Ultralytics models and most upstream detectors use


@dataclass
class Detection:
    """One person box in full-image pixels, optionally with a mask and 2D keypoints."""

    bbox: np.ndarray  # (4,) float x1, y1, x2, y2
    score: float = 1.0
    class_id: int = PERSON_CLASS_ID
    mask: np.ndarray | None = None  # (H, W) bool, full-image coordinates
    keypoints: np.ndarray | None = None  # (K, 3) x, y pixels and confidence (COCO-17 from YOLO-pose)
    source: str = "upstream"  # "upstream" | "onnx" | "fixed" | "propagated"

    def __post_init__(self) -> None:
        self.bbox = np.asarray(self.bbox, dtype=np.float64).reshape(4)

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) x1y1x2y2 boxes -> (N, M) intersection over union."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression -> indices kept, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def clip_box(bbox: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes (..., 4) kept inside a width x height image."""
    limits = np.array([width, height, width, height], dtype=np.float64)
    return np.clip(np.asarray(bbox, dtype=np.float64), 0, limits)


def fixed_region_detection(region: Sequence[float], width: int, height: int) -> Detection:
    """A single-person set-up: the person is inside `region`, given as fractions of the image."""
    if len(region) != 4:
        raise InputError(f"fixed_region must be [x1, y1, x2, y2] fractions of the image, got {list(region)}")
    x1, y1, x2, y2 = (float(v) for v in region)
    if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
        raise InputError(f"fixed_region {list(region)} must satisfy 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1")
    return Detection(np.array([x1 * width, y1 * height, x2 * width, y2 * height]), 1.0, source="fixed")


def select_detections(
    detections: Sequence[Detection],
    width: int,
    height: int,
    score_threshold: float,
    min_box_size: float,
    max_persons: int,
) -> list[Detection]:
    """Clip to the image, drop weak and tiny boxes, keep the `max_persons` best scores.

    Why here and not per source: upstream boxes are not trusted to be inside the image, and the
    model batch size must stay bounded whatever the detector returns.
    """
    kept = []
    for det in detections:
        if not np.all(np.isfinite(det.bbox)):
            continue
        bbox = clip_box(det.bbox, width, height)
        if det.score < score_threshold or min(bbox[2] - bbox[0], bbox[3] - bbox[1]) < min_box_size:
            continue
        kept.append(replace(det, bbox=bbox))
    kept.sort(key=lambda d: -d.score)
    return kept[:max_persons]


def points_extent(points: np.ndarray) -> np.ndarray | None:
    """(J, 2) points -> (4,) x1, y1, x2, y2 of the finite ones; None when there is no area."""
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        return None
    extent = np.concatenate([points.min(axis=0), points.max(axis=0)])
    return extent if np.all(extent[2:] - extent[:2] >= 1.0) else None


def box_relation(box: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """How a detector box sits around the joint extent: (4,) side offsets in extent sizes.

    Measured on a frame with a real detection and reused while propagating, so propagated boxes
    keep the detector's tightness instead of a guessed margin (and do not grow frame by frame).
    """
    size = np.tile(extent[2:] - extent[:2], 2)
    return (box - extent) / size


def box_from_points(
    points: np.ndarray, width: int, height: int, relation: np.ndarray | None = None, margin: float = 0.1
) -> np.ndarray | None:
    """Person box from 2D joints (J, 2): the extent placed by `relation`, or grown by `margin`
    x its size on each side when no relation was measured yet; None when empty."""
    extent = points_extent(points)
    if extent is None:
        return None
    if relation is None:
        relation = np.array([-margin, -margin, margin, margin])
    box = clip_box(extent + relation * np.tile(extent[2:] - extent[:2], 2), width, height)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return None
    return box


def warp_mask_to_box(mask: np.ndarray, old_box: np.ndarray, new_box: np.ndarray) -> np.ndarray:
    """Move a full-image mask with its box (scale + shift), so a propagated box keeps a mask."""
    sx = (new_box[2] - new_box[0]) / max(old_box[2] - old_box[0], 1e-6)
    sy = (new_box[3] - new_box[1]) / max(old_box[3] - old_box[1], 1e-6)
    affine = np.array(
        [[sx, 0, new_box[0] - sx * old_box[0]], [0, sy, new_box[1] - sy * old_box[1]]], dtype=np.float64
    )
    h, w = mask.shape
    moved = cv2.warpAffine(mask.astype(np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return moved.astype(bool)


def propagate_detection(
    previous: Detection,
    joints2d: np.ndarray,
    width: int,
    height: int,
    relation: np.ndarray | None = None,
    margin: float = 0.1,
) -> Detection | None:
    """The next frame's box for a tracked person, from its last projected joints (no detector run)."""
    box = box_from_points(joints2d, width, height, relation, margin)
    if box is None:
        return None
    mask = None if previous.mask is None else warp_mask_to_box(previous.mask, previous.bbox, box)
    return Detection(box, previous.score, previous.class_id, mask, None, source="propagated")
