"""Built-in person detector: an Ultralytics YOLO ONNX export run by onnxruntime.

Reads the three export layouts as they come out of `yolo export format=onnx` (no NMS inside):
- detect:  output0 (1, 4+nc, A)
- segment: output0 (1, 4+nc+nm, A) and prototypes output1 (1, nm, h, w)  (nm = 32)
- pose:    output0 (1, 4+1+K*3, A) with K = 17 COCO keypoints
Boxes are (cx, cy, w, h) in letterboxed input pixels and class scores already sigmoid-ed.
FastHMR takes its Mask-ToMe masks from YOLO11n-seg (docs/pipeline.md), hence the segment path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fasthmr_ros.errors import CheckpointError, InputError, MissingFileError
from fasthmr_ros.pipeline.detection import PERSON_CLASS_ID, Detection, clip_box, iou_matrix, nms

TASKS = ("detect", "segment", "pose")
COCO_KEYPOINTS = 17
LETTERBOX_FILL = 114  # Ultralytics' grey padding value


@dataclass
class Letterbox:
    """How an image was fitted into the network input: scale, then pad (left, top)."""

    scale: float
    left: int
    top: int
    inner_w: int  # resized image size inside the input
    inner_h: int

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) input-pixel coordinates -> original image pixels."""
        return (xy - np.array([self.left, self.top])) / self.scale


def letterbox(image: np.ndarray, in_w: int, in_h: int) -> tuple[np.ndarray, Letterbox]:
    """(H, W, 3) RGB uint8 -> (1, 3, in_h, in_w) float32 in 0..1, aspect kept, centred, grey padded."""
    h, w = image.shape[:2]
    scale = min(in_w / w, in_h / h)
    inner_w, inner_h = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = (in_w - inner_w) // 2, (in_h - inner_h) // 2
    canvas = np.full((in_h, in_w, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[top : top + inner_h, left : left + inner_w] = cv2.resize(
        image, (inner_w, inner_h), interpolation=cv2.INTER_LINEAR
    )
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return blob, Letterbox(scale, left, top, inner_w, inner_h)


class YoloOnnxDetector:
    """Person boxes (+ masks for segment models, + COCO-17 keypoints for pose models)."""

    def __init__(
        self,
        model_path: str | Path,
        task: str = "auto",
        score_threshold: float = 0.35,
        nms_iou: float = 0.6,
        person_class_ids: Sequence[int] = (PERSON_CLASS_ID,),
        input_size: int = 640,
        mask_threshold: float = 0.5,
        max_detections: int = 100,
        providers: Sequence[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(model_path)
        if not path.is_file():
            raise MissingFileError(f"detector model not found: {path} (an Ultralytics YOLO ONNX export)")
        try:
            self.session = ort.InferenceSession(
                str(path), providers=list(providers or ["CPUExecutionProvider"])
            )
        except Exception as exc:  # onnxruntime raises its own exception classes
            raise CheckpointError(f"{path} is not a loadable ONNX model: {exc}") from exc
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        dims = list(inp.shape)
        if len(dims) != 4:
            raise CheckpointError(f"{path}: expected an image input (1, 3, H, W), got {dims}")
        self.in_h = dims[2] if isinstance(dims[2], int) else input_size
        self.in_w = dims[3] if isinstance(dims[3], int) else input_size
        self.task = self._resolve_task(task, path)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.person_class_ids = list(person_class_ids)
        self.mask_logit_threshold = float(np.log(mask_threshold / (1.0 - mask_threshold)))
        self.max_detections = max_detections

    def _resolve_task(self, task: str, path: Path) -> str:
        """Ultralytics writes `task` into the model metadata; otherwise the output shapes decide."""
        outputs = self.session.get_outputs()
        meta = self.session.get_modelmeta().custom_metadata_map
        if task == "auto":
            task = meta.get("task", "")
            if task not in TASKS:
                has_protos = len(outputs) > 1 and len(outputs[1].shape) == 4
                is_pose = outputs[0].shape[1] == 4 + 1 + COCO_KEYPOINTS * 3
                task = "segment" if has_protos else "pose" if is_pose else "detect"
        if task not in TASKS:
            raise ValueError(f"detector task must be auto or one of {TASKS}, got {task!r}")
        if task == "segment" and (len(outputs) < 2 or len(outputs[1].shape) != 4):
            raise CheckpointError(f"{path}: a segment model needs a prototype output (1, 32, h, w)")
        return task

    def detect(self, image: np.ndarray) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"detector needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        blob, box = letterbox(image, self.in_w, self.in_h)
        outputs = self.session.run(None, {self.input_name: blob})
        preds = outputs[0][0].T  # (A, C)
        h, w = image.shape[:2]
        if self.task == "pose":
            scores, classes = preds[:, 4], np.full(len(preds), PERSON_CLASS_ID)
            extra = preds[:, 5:]
        else:
            nm = outputs[1].shape[1] if self.task == "segment" else 0
            class_scores = preds[:, 4 : preds.shape[1] - nm]
            classes = class_scores.argmax(axis=1)
            scores = class_scores[np.arange(len(preds)), classes]
            extra = preds[:, preds.shape[1] - nm :] if nm else preds[:, :0]
        keep = (scores > self.score_threshold) & np.isin(classes, self.person_class_ids)
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return []
        cxcywh = preds[idx, :4]
        xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
        xyxy = box.to_image(xyxy.reshape(-1, 2, 2)).reshape(-1, 4)
        order = nms(xyxy, scores[idx], self.nms_iou)[: self.max_detections]
        idx, xyxy = idx[order], xyxy[order]
        dets = [
            Detection(clip_box(b, w, h), float(scores[i]), int(classes[i]), source="onnx")
            for b, i in zip(xyxy, idx, strict=True)
        ]
        if self.task == "segment":
            for det, mask in zip(dets, self._masks(extra[idx], outputs[1][0], box, dets, w, h), strict=True):
                det.mask = mask
        elif self.task == "pose":
            kpts = extra[idx].reshape(len(idx), -1, 3).astype(np.float64)
            kpts[..., :2] = box.to_image(kpts[..., :2])
            for det, k in zip(dets, kpts, strict=True):
                det.keypoints = k
        return dets

    def _masks(
        self, coeffs: np.ndarray, protos: np.ndarray, box: Letterbox, dets: list[Detection], w: int, h: int
    ) -> list[np.ndarray]:
        """Mask coefficients (N, nm) x prototypes (nm, ph, pw) -> N full-image bool masks cut to their box."""
        nm, ph, pw = protos.shape
        logits = (coeffs @ protos.reshape(nm, -1)).reshape(-1, ph, pw)  # (N, ph, pw)
        # The prototypes cover the letterboxed input at a lower resolution: keep the image part.
        sy, sx = ph / self.in_h, pw / self.in_w
        y0, y1 = box.top * sy, (box.top + box.inner_h) * sy
        x0, x1 = box.left * sx, (box.left + box.inner_w) * sx
        # Sample the proto grid at each output pixel centre (an affine map, so one warp per mask).
        affine = np.array([[(x1 - x0) / w, 0, x0], [0, (y1 - y0) / h, y0]], dtype=np.float64)
        affine[:, 2] += 0.5 * affine[:, :2].sum(axis=1) - 0.5
        masks = []
        for logit, det in zip(logits, dets, strict=True):
            full = cv2.warpAffine(
                logit.astype(np.float32),
                affine,
                (w, h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            mask = full > self.mask_logit_threshold
            bx1, by1, bx2, by2 = np.round(det.bbox).astype(int)
            cut = np.zeros_like(mask)
            cut[by1:by2, bx1:bx2] = mask[by1:by2, bx1:bx2]
            masks.append(cut)
        return masks


def attach_keypoints(
    detections: list[Detection], pose_detections: list[Detection], min_iou: float = 0.3
) -> list[Detection]:
    """Give each person box the keypoints of the pose-model person that overlaps it best.

    Why by box overlap: the keypoint model runs on the whole image independently of where the
    boxes came from (upstream, segment model, propagation), so the two sets must be paired.
    Persons without a match keep `keypoints=None` (GenHMR then skips 2D refinement for them).
    """
    from scipy.optimize import linear_sum_assignment

    with_kpts = [d for d in pose_detections if d.keypoints is not None]
    if not detections or not with_kpts:
        return detections
    iou = iou_matrix(np.stack([d.bbox for d in detections]), np.stack([d.bbox for d in with_kpts]))
    rows, cols = linear_sum_assignment(-iou)
    for r, c in zip(rows, cols, strict=True):
        if iou[r, c] >= min_iou:
            detections[r].keypoints = with_kpts[c].keypoints
    return detections
