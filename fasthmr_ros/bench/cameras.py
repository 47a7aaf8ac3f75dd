"""Section `cameras`: several cameras on one model, batched vs one after another vs one alone.

What a robot integrator asks: with N cameras, how many crops per second does one model serve,
and how much later does each camera's result come than if that camera ran alone? Each step
gives every camera one new 640x480 frame with one person (upstream box). "batched" is the
node's path (`pipeline.multi_camera`: every camera's crop in one forward pass); "sequential"
runs the cameras' pipelines one after another on the same model, what a loop over cameras
without batching would do. Latency here is step start to a camera's result (the model's and
the pipeline's time, without transport), timed interleaved with the one-camera run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from fasthmr_ros.bench.context import BenchContext
from fasthmr_ros.bench.harness import Section
from fasthmr_ros.config import PipelineConfig
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.multi_camera import CameraFrame, process_cameras

CAMERA_COUNTS = (2, 4)
W, H = 640, 480


def _frames(count: int) -> list[CameraFrame]:
    rng = np.random.default_rng(count)
    box = np.array([250.0, 60.0, 390.0, 420.0])
    return [
        CameraFrame(
            rng.integers(0, 255, (H, W, 3), dtype=np.uint8),
            default_intrinsics(W, H),
            0,
            f"camera{i}_optical",
            [Detection(box + 10 * i, 0.9)],
        )
        for i in range(count)
    ]


def cameras_section(ctx: BenchContext) -> Section:
    section = Section(
        title=f"several cameras, one model ({ctx.model_name}, one person per camera, 640x480), {ctx.device}",
        columns=["cameras", "mode", "step_ms", "crops_per_s", "latency_mean_ms", "latency_max_ms",
                 "latency_vs_alone"],
    )  # fmt: skip
    from fasthmr_ros.models.default import resolve_body_model

    body = resolve_body_model(ctx.settings.smpl, ctx.settings.j19)
    estimator = MeshEstimator(ctx.baseline, body.body, device=ctx.device)
    first = Pipeline(estimator, PipelineConfig(detection="upstream"))
    latencies: dict[str, list[list[float]]] = {}  # run -> per step, per camera seconds

    def alone() -> None:
        frame = _frames(1)[0]
        start = time.perf_counter()
        first.process(frame.image_rgb, frame.camera, frame.stamp_ns, frame.frame_id, frame.detections)
        ctx.sync()
        latencies.setdefault("alone", []).append([time.perf_counter() - start])

    def batched(count: int) -> Callable[[], None]:
        pipes = [first.sibling() for _ in range(count)]
        frames = _frames(count)

        def step() -> None:
            start = time.perf_counter()
            process_cameras(pipes, frames)
            ctx.sync()
            latencies.setdefault(f"batched {count}", []).append([time.perf_counter() - start] * count)

        return step

    def sequential(count: int) -> Callable[[], None]:
        pipes = [first.sibling() for _ in range(count)]
        frames = _frames(count)

        def step() -> None:
            start, done = time.perf_counter(), []
            for pipe, f in zip(pipes, frames, strict=True):
                pipe.process(f.image_rgb, f.camera, f.stamp_ns, f.frame_id, f.detections)
                ctx.sync()
                done.append(time.perf_counter() - start)
            latencies.setdefault(f"sequential {count}", []).append(done)

        return step

    runs: dict[str, Callable[[], None]] = {"alone": alone}
    for count in CAMERA_COUNTS:
        runs[f"batched {count}"] = batched(count)
        runs[f"sequential {count}"] = sequential(count)
    times = ctx.time(runs, "cameras")
    repeats = ctx.settings.repeats
    alone_ms = statistics.median(s[0] for s in latencies["alone"][-repeats:]) * 1e3
    for name in runs:
        mode, count = ("alone", 1) if name == "alone" else (name.split()[0], int(name.split()[1]))
        steps = latencies[name][-repeats:]
        mean_ms = statistics.median(statistics.fmean(s) for s in steps) * 1e3
        max_ms = statistics.median(max(s) for s in steps) * 1e3
        step_ms = times.median_ms(name)
        section.rows.append(
            {
                "cameras": count,
                "mode": mode,
                "step_ms": round(step_ms, 2),
                "crops_per_s": round(count * 1e3 / step_ms, 3),
                "latency_mean_ms": round(mean_ms, 2),
                "latency_max_ms": round(max_ms, 2),
                "latency_vs_alone": round(max_ms / alone_ms, 3),
            }
        )
    section.notes.append(f"body model: {body.description}; one torch process, {ctx.device}")
    return section
