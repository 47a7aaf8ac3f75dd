"""The built-in ONNX detector end to end through real onnxruntime, for the three YOLO layouts.

Frames are 1280x720 into a 640x640 input: scale 0.5, 140 px grey bands top and bottom, so an
input point (x, y) is the image point (2x, 2(y - 140)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fasthmr_ros.errors import CheckpointError, InputError, MissingFileError
from fasthmr_ros.pipeline.detection import Detection, iou_matrix
from fasthmr_ros.pipeline.yolo import YoloOnnxDetector, attach_keypoints
from tests.yolo_onnx_models import build_yolo_onnx

W, H = 1280, 720


def _frame(bright: bool = True) -> np.ndarray:
    frame = np.zeros((H, W, 3), np.uint8)
    if bright:
        frame[10:20, 10:20] = 255  # survives the 2x downscale at full brightness
    return frame


def _to_image(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array([2 * (cx - w / 2), 2 * (cy - h / 2 - 140), 2 * (cx + w / 2), 2 * (cy + h / 2 - 140)])


BOXES = np.array(
    [
        [320, 320, 100, 200],  # person, 0.9
        [325, 318, 100, 200],  # duplicate of the first, lower score: NMS removes it
        [500, 300, 60, 120],  # second person, 0.7
        [150, 300, 80, 80],  # a "car": class 2 wins, not a person
        [100, 250, 50, 100],  # person below the threshold
    ],
    dtype=np.float64,
)


def _class_scores() -> np.ndarray:
    scores = np.zeros((5, 3))
    scores[:, 0] = [0.9, 0.8, 0.7, 0.3, 0.2]
    scores[3, 2] = 0.95
    return scores


def test_detect_layout(tmp_path: Path) -> None:
    path = build_yolo_onnx(tmp_path / "det.onnx", BOXES, _class_scores())
    det = YoloOnnxDetector(path, score_threshold=0.5)
    assert det.task == "detect"
    found = det.detect(_frame())
    assert [round(d.score, 3) for d in found] == [0.9, 0.7]
    np.testing.assert_allclose(found[0].bbox, _to_image(*BOXES[0]), atol=1e-3)
    np.testing.assert_allclose(found[1].bbox, _to_image(*BOXES[2]), atol=1e-3)
    assert all(d.class_id == 0 and d.mask is None and d.source == "onnx" for d in found)
    # A black frame: only the grey padding reaches the model -> scores * 114/255 < 0.5.
    assert det.detect(_frame(bright=False)) == []
    # Looser NMS keeps the duplicate.
    assert len(YoloOnnxDetector(path, score_threshold=0.5, nms_iou=0.95).detect(_frame())) == 3


def test_segment_layout_masks(tmp_path: Path) -> None:
    nm, ph, pw = 32, 160, 160
    protos = np.full((nm, ph, pw), -10.0)
    protos[0, 60:100, 70:110] = 10.0  # input rows 240..400, cols 280..440
    coeffs = np.zeros((5, nm))
    coeffs[:, 0] = 1.0
    path = build_yolo_onnx(tmp_path / "seg.onnx", BOXES, _class_scores(), coeffs, protos)
    det = YoloOnnxDetector(path, score_threshold=0.5)
    assert det.task == "segment"
    found = det.detect(_frame())
    assert len(found) == 2
    mask = found[0].mask
    assert mask is not None and mask.shape == (H, W) and mask.dtype == bool
    # Prototype blob in image pixels: rows 200..520, cols 560..880; cut to box x 540..740, y 160..560.
    expected = np.zeros((H, W), bool)
    expected[200:520, 560:740] = True
    overlap = (mask & expected).sum() / (mask | expected).sum()
    assert overlap > 0.97, overlap
    assert not mask[:, 741:].any()  # nothing outside the box
    # Second person's box (x 440..560) only touches the blob's left edge.
    assert found[1].mask is not None and found[1].mask[:, :558].sum() == 0


def test_pose_layout_keypoints(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    boxes = BOXES[:3]
    kpts = np.zeros((3, 17, 3))
    kpts[..., 0] = boxes[:, None, 0] + rng.uniform(-40, 40, (3, 17))
    kpts[..., 1] = boxes[:, None, 1] + rng.uniform(-90, 90, (3, 17))
    kpts[..., 2] = rng.uniform(0.2, 1.0, (3, 17))
    scores = np.array([[0.9], [0.8], [0.7]])
    path = build_yolo_onnx(tmp_path / "pose.onnx", boxes, scores, kpts.reshape(3, -1), task_metadata="pose")
    det = YoloOnnxDetector(path, score_threshold=0.5)
    assert det.task == "pose"
    found = det.detect(_frame())
    assert len(found) == 2
    for d, src in zip(found, [0, 2], strict=True):
        assert d.keypoints is not None and d.keypoints.shape == (17, 3)
        np.testing.assert_allclose(d.keypoints[:, 0], 2 * kpts[src, :, 0], atol=1e-3)
        np.testing.assert_allclose(d.keypoints[:, 1], 2 * (kpts[src, :, 1] - 140), atol=1e-3)
        np.testing.assert_allclose(d.keypoints[:, 2], kpts[src, :, 2], atol=1e-6)
    # Pairing pose persons with boxes from another source, by overlap.
    boxes_elsewhere = [Detection(found[1].bbox + 3), Detection(found[0].bbox - 2), Detection([0, 0, 5, 5])]
    paired = attach_keypoints(boxes_elsewhere, found)
    assert paired[0].keypoints is found[1].keypoints
    assert paired[1].keypoints is found[0].keypoints
    assert paired[2].keypoints is None
    assert iou_matrix(paired[0].bbox, found[1].bbox)[0, 0] > 0.9


def test_detector_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        YoloOnnxDetector(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError):
        YoloOnnxDetector(bad)
    path = build_yolo_onnx(tmp_path / "det.onnx", BOXES, _class_scores())
    with pytest.raises(CheckpointError, match="prototype"):
        YoloOnnxDetector(path, task="segment")
    with pytest.raises(InputError):
        YoloOnnxDetector(path).detect(np.zeros((H, W), np.uint8))
