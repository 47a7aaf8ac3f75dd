"""Sections `pipeline` (one image through crop, mask, model and SMPL, per stage) and `split`
(the per-frame work around the network, model excluded).

Why the split is measured apart from the model: the model runs on whatever accelerator the robot
has, while this work stays on the CPU for every frame and person. Target at 1280x720 on this CPU:
under 15 ms for one person and under 40 ms for five. It runs the real `Pipeline` on upstream
boxes (the detector is a separate, optional cost) and drops its "model" stage.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from fasthmr_ros.bench.context import BenchContext, Variant
from fasthmr_ros.bench.harness import Section, load_average
from fasthmr_ros.config import MergingConfig, PipelineConfig
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.estimator import MeshEstimator

TARGET_MS = {1: 15.0, 5: 40.0}
EXCLUDED_STAGES = ("model",)


def pipeline_section(ctx: BenchContext) -> Section:
    """One 640x480 image, one person: crop, person mask, model, SMPL + camera, per stage."""
    section = Section(
        title=f"single-image pipeline (one person, 640x480), {ctx.device}, fp32",
        columns=["variant", "crop_ms", "mask_ms", "model_ms", "smpl_ms", "total_ms", "fps", "speedup"],
    )
    try:
        from fasthmr_ros.models.default import resolve_body_model

        body = resolve_body_model(ctx.settings.smpl, ctx.settings.j19)
    except Exception as exc:  # a missing SMPL/stand-in must not sink the other sections
        section.notes.append(f"skipped: no body model ({type(exc).__name__}: {exc})")
        return section
    section.notes.append(f"body model: {body.description}")
    import cv2

    from fasthmr_ros.merging.masks import CropMaskInput, person_patch_mask

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[250.0, 60.0, 390.0, 420.0]])
    camera = default_intrinsics(640, 480)
    merging = MergingConfig(mask_source="box")
    chosen = [v for v in ctx.variants() if v.name in ("baseline", "ECLM+Mask-ToMe")]
    stages: dict[str, dict[str, list[float]]] = {v.name: {} for v in chosen}

    def run_pipeline(v: Variant) -> Callable[[], None]:
        estimator = MeshEstimator(v.model, body.body, device=ctx.device)

        def once() -> None:
            marks = [time.perf_counter()]
            batch = estimator.prepare(image, boxes)
            marks.append(time.perf_counter())
            kwargs = {}
            if v.person_mask is not None:
                affines = [cv2.invertAffineTransform(m) for m in batch.crop_to_image()]
                items = [CropMaskInput(a, b) for a, b in zip(affines, batch.boxes, strict=True)]
                mask = person_patch_mask(items, merging, v.model.config.backbone)
                if mask is not None:
                    kwargs["person_mask"] = mask.to(ctx.device)
            marks.append(time.perf_counter())
            outputs = estimator.infer(batch, camera, **kwargs)
            ctx.sync()
            marks.append(time.perf_counter())
            estimator.to_persons(outputs, batch, camera)
            ctx.sync()
            marks.append(time.perf_counter())
            for stage, (a, b) in zip(
                ("crop", "mask", "model", "smpl"), itertools.pairwise(marks), strict=True
            ):
                stages[v.name].setdefault(stage, []).append(b - a)

        return once

    times = ctx.time({v.name: run_pipeline(v) for v in chosen}, "pipeline")
    base_total = times.median_ms("baseline")
    for v in chosen:
        repeats = ctx.settings.repeats
        per = {k: statistics.median(vals[-repeats:]) * 1000 for k, vals in stages[v.name].items()}
        total = times.median_ms(v.name)
        section.rows.append(
            {
                "variant": v.name,
                **{f"{k}_ms": round(val, 2) for k, val in per.items()},
                "total_ms": round(total, 2),
                "fps": round(1000 / total, 3),
                "speedup": round(base_total / total, 3),
            }
        )
    return section


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
    # Imported here: they need the ROS message libraries, which the model-only sections do not.
    from fasthmr_ros.pipeline.images import decode_image
    from fasthmr_ros.ros.messages.builders import frame_to_msg
    from fasthmr_ros.ros.messages.typestore import HUMAN_MESH_ARRAY, get_typestore

    if estimator is None:
        from fasthmr_ros.models.default import resolve_body_model, resolve_model

        estimator = MeshEstimator(resolve_model().model, resolve_body_model().body)
    typestore = get_typestore(store)
    camera = default_intrinsics(width, height)
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes()  # a camera's bgr8 payload
    load = load_average()
    report: dict[str, Any] = {
        "width": width,
        "height": height,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        # Other processes on a shared CPU inflate medians; the load says how much to trust them.
        "load_average_1min": load[0] if load else None,
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
        entry: dict[str, Any] = {f"{name}_ms": round(statistics.median(v), 3) for name, v in samples.items()}
        entry["total_min_ms"] = round(min(samples["total"]), 3)
        if count in TARGET_MS:
            entry["target_ms"] = TARGET_MS[count]
            entry["meets_target"] = entry["total_ms"] < TARGET_MS[count]
        report["persons"][str(count)] = entry
    return report


def split_section(ctx: BenchContext) -> Section:
    """Per-frame work around the model at 1280x720 (decode, crop, tracking, SMPL, messages)."""
    report = measure_split(repeats=max(ctx.settings.repeats, 10))
    section = Section(
        title="non-model work per frame, 1280x720 (model excluded)",
        columns=["persons", "image_decode_ms", "crop_ms", "track_ms", "smpl_ms", "message_build_ms",
                 "serialise_cdr_ms", "total_ms", "total_min_ms", "target_ms", "meets_target"],
    )  # fmt: skip
    for count, entry in report["persons"].items():
        section.rows.append({"persons": count, **entry})
    section.notes.append(f"load average during the run: {report['load_average_1min']}")
    return section
