"""Soak measurement of the live node over real DDS (`fasthmr soak --minutes 5`).

A child process publishes Image + CameraInfo at 30 Hz (faster than the model runs here); this
process runs the DDS node and samples, every few seconds, the image-stamp -> publish latency of
every processed frame, the model's own per-frame time (the pipeline's stage sum), the drop
counters and the resident memory. The target is a latency within 1.5x the model time (the
newest-frame slot keeps queueing delay under one input period) and a flat RSS.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.node.setup import LoadedPipeline

SAMPLE_S = 5.0
WARMUP_S = 30.0  # RSS growth is measured from here on (allocator and caches settle first)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def publish_camera(domain: int, seconds: float, width: int, height: int, rate_hz: float) -> None:
    """Child process: a synthetic camera (moving gradient) with its CameraInfo, stamped at send time."""
    from fasthmr_ros.ros.messages.builders import camera_info_message, image_message
    from fasthmr_ros.ros.messages.typestore import CAMERA_INFO, IMAGE
    from fasthmr_ros.ros.transport.base import DEFAULT
    from fasthmr_ros.ros.transport.dds import DdsTransport

    camera = CameraIntrinsics(width, width, width / 2, height / 2, width, height)
    base = np.add.outer(np.arange(height), np.arange(width)).astype(np.uint8)
    with DdsTransport(domain) as side:
        images = side.advertise("/camera/image_raw", IMAGE, DEFAULT)
        infos = side.advertise("/camera/camera_info", CAMERA_INFO, DEFAULT)
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            stamp = time.time_ns()
            rgb = np.repeat((base + np.uint8(i % 256))[:, :, None], 3, axis=2)
            infos.publish(camera_info_message(camera, stamp, "camera_optical_frame"))
            images.publish(image_message(rgb, stamp, "camera_optical_frame"))
            i += 1
            time.sleep(max(0.0, start + i / rate_hz - time.monotonic()))


@dataclass
class SoakSettings:
    """What `fasthmr soak` was asked for (its flags, typed)."""

    minutes: float = 5.0
    rate: float = 30.0  # input rate (Hz)
    width: int = 320
    height: int = 240
    domain_id: int = 160 + os.getpid() % 60
    checkpoint: str = ""  # "" = found or the embedded default
    preset: str | None = None  # instead: a random-weight model of this preset, for timing
    mesh_markers: bool = False
    cpu_threads: int = 1
    marker_rate: float = NodeConfig.marker_rate_hz
    json: str | None = None
    plot: str | None = None


def run_soak(args: SoakSettings) -> dict[str, Any]:
    """Run the node for `args.minutes` under a 30 Hz synthetic camera; print, save and return the summary."""
    from fasthmr_ros.ros.node.dds_node import DdsNode

    cfg = NodeConfig(
        device="cpu",
        checkpoint=args.checkpoint,
        cpu_threads=args.cpu_threads,
        marker_rate_hz=args.marker_rate,
        mesh_markers=args.mesh_markers,
    )
    seconds = args.minutes * 60
    samples: list[dict[str, float]] = []
    latencies: list[float] = []
    model_ms: list[float] = []
    loaded = timing_pipeline(cfg, args.preset) if args.preset else None
    with DdsNode(cfg, args.domain_id, loaded=loaded) as node:
        node.activate()
        child = mp.get_context("spawn").Process(
            target=publish_camera, args=(args.domain_id, seconds, args.width, args.height, args.rate)
        )
        child.start()
        start = time.monotonic()
        seen = 0
        stop = threading.Event()
        while child.is_alive() and not stop.wait(SAMPLE_S):
            s = node.core.stats()
            new = min(s.processed - seen, len(s.latencies_ms))
            seen = s.processed
            lat, mod = s.latencies_ms[len(s.latencies_ms) - new :], s.model_ms[len(s.model_ms) - new :]
            latencies += lat
            model_ms += mod
            sample = {
                "t_s": time.monotonic() - start,
                "rss_mb": rss_mb(),
                "frames_in": s.frames_in,
                "processed": s.processed,
                "dropped": s.dropped,
                "malformed": sum(s.malformed.values()),
                "errors": sum(s.errors.values()),
                "latency_median_ms": statistics.median(lat) if lat else float("nan"),
                "model_median_ms": statistics.median(mod) if mod else float("nan"),
            }
            samples.append(sample)
            print(
                f"{sample['t_s']:6.0f} s  rss {sample['rss_mb']:7.1f} MB  in {s.frames_in:6d}  "
                f"out {s.processed:5d}  dropped {s.dropped:6d}  "
                f"latency {sample['latency_median_ms']:7.1f} ms  "
                f"model {sample['model_median_ms']:7.1f} ms",
                flush=True,
            )
        child.join()
    summary = summarise(samples, latencies, model_ms)
    for key, value in summary.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    if args.plot:
        plot(samples, args.plot)
    return summary


def timing_pipeline(cfg: NodeConfig, preset: str) -> LoadedPipeline:
    """A random-weight model of `preset` with the stand-in body: realistic cost, meaningless output."""
    import torch

    from fasthmr_ros.config import model_preset
    from fasthmr_ros.models.default import resolve_body_model
    from fasthmr_ros.models.hmr import HMR
    from fasthmr_ros.pipeline.core import Pipeline
    from fasthmr_ros.pipeline.estimator import MeshEstimator
    from fasthmr_ros.ros.node.setup import pipeline_config
    from fasthmr_ros.runtime.select import BackendChoice

    torch.set_num_threads(max(1, cfg.cpu_threads))
    body = resolve_body_model(None, None).body
    pipeline = Pipeline(MeshEstimator(HMR(model_preset(preset)), body), pipeline_config(cfg, "cpu"))
    pipeline.model_description = f"random-weight {preset} (timing only)"
    choice = BackendChoice("cpu", "cpu", "fp32", "soak: torch on the CPU")
    return LoadedPipeline(pipeline, choice, body.smpl.v_template.cpu().numpy())


def summarise(
    samples: list[dict[str, float]], latencies: list[float], model_ms: list[float]
) -> dict[str, Any]:
    settled = [s for s in samples if s["t_s"] >= WARMUP_S] or samples
    rss = np.array([s["rss_mb"] for s in settled])
    t = np.array([s["t_s"] for s in settled])
    slope = float(np.polyfit(t, rss, 1)[0] * 60) if len(t) > 1 else float("nan")
    lat_med = statistics.median(latencies) if latencies else float("nan")
    mod_med = statistics.median(model_ms) if model_ms else float("nan")
    last = samples[-1] if samples else {}
    return {
        "frames in": last.get("frames_in"),
        "frames processed": last.get("processed"),
        "frames dropped": last.get("dropped"),
        "malformed / errors": f"{last.get('malformed')} / {last.get('errors')}",
        "latency median / p95 / max (ms)": f"{lat_med:.1f} / {np.percentile(latencies, 95):.1f} / "
        f"{max(latencies):.1f}"
        if latencies
        else "n/a",
        "model time median (ms)": f"{mod_med:.1f}",
        "latency / model time (medians)": f"{lat_med / mod_med:.2f}",
        "rss after warm-up first / last / max (MB)": f"{rss[0]:.1f} / {rss[-1]:.1f} / {rss.max():.1f}",
        "rss slope after warm-up (MB/min)": f"{slope:.2f}",
    }


def plot(samples: list[dict[str, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] for s in samples]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    a.plot(t, [s["latency_median_ms"] for s in samples], label="image stamp -> publish (median)")
    a.plot(t, [s["model_median_ms"] for s in samples], label="model per-frame time (median)")
    a.set_ylabel("ms")
    a.legend()
    b.plot(t, [s["rss_mb"] for s in samples])
    b.set_ylabel("RSS (MB)")
    b.set_xlabel("time (s)")
    fig.suptitle("fasthmr node over DDS, 30 Hz input")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
