"""Per-frame cost of everything except the network: image decode, detection handling, tracking,
crops, SMPL + camera, history, message build and CDR serialisation.

Why separate from the model time: the model runs on whatever accelerator the robot has, while
this work stays on the CPU for every frame and person; issue target at 1280x720 on this CPU:
under 15 ms for one person and under 40 ms for five. Runs the real `Pipeline` on upstream boxes
(the detector is a separate, optional cost) and drops its "model" stage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fasthmr_ros.config import PipelineConfig
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.images import decode_image

TARGET_MS = {1: 15.0, 5: 40.0}
EXCLUDED_STAGES = ("model",)


def _person_boxes(count: int, frame: int, width: int, height: int) -> list[np.ndarray]:
    """`count` standing-person boxes side by side, walking slowly.

    About 2/3 of the image tall with a person's 0.4 width:height: the crop is then a mild
    downscale (no anti-alias blur), as for a person a few metres from the camera.
    """
    box_h = height * 0.65
    box_w = 0.4 * box_h
    boxes = []
    for i in range(count):
        x1 = (i + 0.4) * width / (count + 1) + 2.0 * (frame % 20)
        y1 = height * 0.2
        boxes.append(np.array([x1, y1, x1 + box_w, y1 + box_h]))
    return boxes


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def measure_split(
    estimator: MeshEstimator | None = None,
    person_counts: Sequence[int] = (1, 5),
    repeats: int = 30,
    warmup: int = 3,
    width: int = 1280,
    height: int = 720,
    store: str = "jazzy",
) -> dict[str, Any]:
    """Median milliseconds per stage and in total, per person count, model time excluded."""
    from fasthmr_ros.ros.convert import frame_to_msg
    from fasthmr_ros.ros.typestore import HUMAN_MESH_ARRAY, get_typestore

    if estimator is None:
        from fasthmr_ros.models.default import resolve_body_model, resolve_model

        estimator = MeshEstimator(resolve_model().model, resolve_body_model().body)
    typestore = get_typestore(store)
    camera = default_intrinsics(width, height)
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes()  # a camera's bgr8 payload
    report: dict[str, Any] = {
        "width": width,
        "height": height,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        # Other processes on a shared CPU inflate medians; the load says how much to trust them.
        "load_average_1min": round(os.getloadavg()[0], 2),
        "body_model_vertices": int(estimator.body.smpl.v_template.shape[0]),
        "excluded": list(EXCLUDED_STAGES),
        "persons": {},
    }
    for count in person_counts:
        pipeline = Pipeline(estimator, PipelineConfig(max_persons=max(count, 1)))
        samples: dict[str, list[float]] = {}
        for frame in range(warmup + repeats):
            start = time.perf_counter()
            image = decode_image("bgr8", width, height, width * 3, bgr)
            decoded = time.perf_counter()
            boxes = [Detection(b, 0.9) for b in _person_boxes(count, frame, width, height)]
            result = pipeline.process(image, camera, frame * 33_333_333, "camera", boxes)
            built = time.perf_counter()
            msg = frame_to_msg(result, store=store)
            built_msg = time.perf_counter()
            typestore.serialize_cdr(msg, HUMAN_MESH_ARRAY)
            serialised = time.perf_counter()
            if frame < warmup:
                continue
            stages = {k: v for k, v in result.timings_ms.items() if k not in EXCLUDED_STAGES}
            stages["image_decode"] = (decoded - start) * 1e3
            stages["message_build"] = (built_msg - built) * 1e3
            stages["serialise_cdr"] = (serialised - built_msg) * 1e3
            stages["total"] = sum(stages.values())
            for name, ms in stages.items():
                samples.setdefault(name, []).append(ms)
        entry: dict[str, Any] = {f"{name}_ms": _median(v) for name, v in samples.items()}
        entry["total_min_ms"] = round(min(samples["total"]), 3)
        if count in TARGET_MS:
            entry["target_ms"] = TARGET_MS[count]
            entry["meets_target"] = entry["total_ms"] < TARGET_MS[count]
        report["persons"][str(count)] = entry
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="non-model per-frame cost at 1280x720 (JSON)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(measure_split(repeats=args.repeats), indent=1))


if __name__ == "__main__":
    main()
