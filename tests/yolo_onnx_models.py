"""Tiny ONNX graphs with exactly the Ultralytics YOLO export layouts, for real onnxruntime runs.

Each graph outputs fixed anchors whose class/person scores are multiplied by the brightest input
value (0..1): a frame with a white pixel gives the nominal scores, a black frame only the grey
letterbox padding (114/255), so a test can tell the image really went through the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    tensor = numpy_helper.from_array(value.astype(np.float32), name)
    return helper.make_node("Constant", [], [name], value=tensor)


def build_yolo_onnx(
    path: Path,
    boxes: np.ndarray,
    scores: np.ndarray,
    extra: np.ndarray | None = None,
    protos: np.ndarray | None = None,
    input_hw: tuple[int, int] = (640, 640),
    task_metadata: str | None = None,
) -> Path:
    """boxes (A, 4) cx,cy,w,h input pixels; scores (A, S) class (or person) scores;
    extra (A, E) mask coefficients or keypoints (not scaled); protos (nm, ph, pw) for segment."""
    anchors = len(boxes)
    extra = np.zeros((anchors, 0)) if extra is None else extra
    channels = 4 + scores.shape[1] + extra.shape[1]
    fixed = np.concatenate([boxes, np.zeros_like(scores), extra], axis=1).T[None]  # (1, C, A)
    scaled = np.concatenate([np.zeros_like(boxes), scores, np.zeros_like(extra)], axis=1).T[None]
    nodes = [
        _const("fixed", fixed),
        _const("scaled", scaled),
        helper.make_node("ReduceMax", ["images"], ["brightest"], keepdims=0),
        helper.make_node("Mul", ["scaled", "brightest"], ["scores_now"]),
        helper.make_node("Add", ["fixed", "scores_now"], ["output0"]),
    ]
    outputs = [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, channels, anchors])]
    if protos is not None:
        nodes += [_const("protos_c", protos[None]), helper.make_node("Identity", ["protos_c"], ["output1"])]
        outputs.append(helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, *protos.shape]))
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])],
        outputs,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if task_metadata:
        helper.set_model_props(model, {"task": task_metadata})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
