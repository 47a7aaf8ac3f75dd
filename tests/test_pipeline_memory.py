"""Memory stays flat over a long synthetic run: histories, tracks and masks are all bounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fasthmr_ros.config import PipelineConfig, TrackerConfig
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.estimator import MeshEstimator

W, H = 320, 240
FRAMES, WARMUP = 1000, 150


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _people(frame: int) -> list[np.ndarray]:
    """A new person enters every 50 frames and walks across for 120 frames (up to 3 at once)."""
    boxes = []
    for k in range(frame // 50 - 2, frame // 50 + 1):
        age = frame - 50 * k
        if k >= 0 and 0 <= age < 120:
            x = 10 + 2.2 * age
            boxes.append(np.array([x, 40 + 10 * (k % 3), x + 40, 200 + 10 * (k % 3)]))
    return boxes


@pytest.mark.slow
def test_memory_is_flat_over_1000_frames() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        estimator = MeshEstimator(embedded_default_model(), resolve_body_model().body)
        cfg = PipelineConfig(detection="upstream", history_window=8, tracker=TrackerConfig(max_age=10))
        pipe = Pipeline(estimator, cfg)
        camera = default_intrinsics(W, H)
        image = np.full((H, W, 3), 90, np.uint8)
        ids: set[int] = set()
        rss = {}
        for f in range(FRAMES):
            boxes = _people(f)
            masks = []
            for b in boxes:
                m = np.zeros((H, W), bool)
                m[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])] = True
                masks.append(m)
            given = [Detection(b) for b in boxes] if f % 2 == 0 else None  # propagation on odd frames
            result = pipe.process(image, camera, f, "cam", given, masks if given else None)
            ids |= {p.track_id for p in result.persons}
            assert len(pipe.history) <= 6 and len(pipe.tracker.tracks) <= 6
            if f in (WARMUP, FRAMES - 1):
                rss[f] = rss_mb()
        growth = rss[FRAMES - 1] - rss[WARMUP]
        first, last = rss[WARMUP], rss[FRAMES - 1]
        print(f"RSS {first:.1f} MB at frame {WARMUP}, {last:.1f} MB at frame {FRAMES}: {growth:+.2f} MB")
        assert len(ids) >= 15  # people kept coming and going: tracks were created and evicted
        assert growth < 8.0, f"RSS grew {growth:.1f} MB over {FRAMES - WARMUP} frames"
    finally:
        torch.set_num_threads(threads)
