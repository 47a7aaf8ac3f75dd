"""Several cameras, one model: the crops of every camera's newest frame in one forward pass.

Why batch: on a GPU one forward of N crops costs far less than N forwards, so a robot with
several cameras should not pay for a model (or a process) per camera. Tracking, temporal
history and propagation stay per camera — each camera has its own `Pipeline` — and only the
network call is shared; every camera's result keeps its own stamp and frame.

Each camera's frame is begun (detect, track, crop), the crops of all are concatenated into one
`MeshEstimator.infer_many`, and each camera finishes with its share of the outputs. The
"model" stage of every frame's timings is the whole batched forward (each frame waited for it).
A frame that fails (bad input, a decoder error) fails alone: its slot holds the exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.core import Pipeline, StartedFrame
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult


@dataclass
class CameraFrame:
    """One camera's input for a batched step."""

    image_rgb: np.ndarray  # (H, W, 3) uint8
    camera: CameraIntrinsics
    stamp_ns: int
    frame_id: str
    detections: list[Detection] | None = None


def process_cameras(
    pipelines: Sequence[Pipeline], frames: Sequence[CameraFrame | None]
) -> list[FrameResult | Exception | None]:
    """frames[i] goes through pipelines[i] (None: that camera has nothing new). All pipelines
    must share one estimator. Returns, per camera, its FrameResult, the exception its frame
    raised, or None when it had no frame."""
    if len(pipelines) != len(frames):
        raise FastHMRError(f"{len(frames)} frames for {len(pipelines)} cameras")
    estimator = pipelines[0].estimator
    if any(p.estimator is not estimator for p in pipelines):
        raise FastHMRError("batched cameras must share one MeshEstimator (one loaded model)")
    results: list[FrameResult | Exception | None] = [None] * len(frames)
    started: dict[int, StartedFrame] = {}
    for i, (pipe, frame) in enumerate(zip(pipelines, frames, strict=True)):
        if frame is None:
            continue
        try:
            started[i] = pipe.begin(
                frame.image_rgb, frame.camera, frame.stamp_ns, frame.frame_id, frame.detections
            )
        except Exception as exc:  # one camera's bad frame never costs the others theirs
            results[i] = exc
    crops = {i: s.crops for i, s in started.items() if s.crops is not None}
    with_crops = list(crops)
    outputs: dict[int, dict[str, torch.Tensor]] = {}
    if with_crops:
        batch = [started[i] for i in with_crops]
        clock = batch[0].clock
        try:
            with clock.stage("model"):
                split = estimator.infer_many(
                    list(crops.values()),
                    [s.camera for s in batch],
                    [s.model_kwargs for s in batch],
                )
        except Exception as exc:  # the shared forward failed: every frame in it failed
            for i in with_crops:
                results[i] = exc
                del started[i]
            split = []
        for i, out in zip(with_crops, split, strict=False):
            outputs[i] = out
            started[i].clock.ms["model"] = clock.ms["model"]
    for i, s in started.items():
        try:
            results[i] = pipelines[i].finish(s, outputs.get(i))
        except Exception as exc:
            results[i] = exc
    return results
