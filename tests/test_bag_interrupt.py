"""A real SIGTERM/SIGHUP/SIGINT in the middle of `fasthmr bag` leaves a readable, marked-partial rosbag2."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rosbags.rosbag2 import Reader

from fasthmr_ros.config import BagConfig, PipelineConfig
from fasthmr_ros.models.default import resolve_body_model, resolve_model
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.ros.bag import BagProcessor
from fasthmr_ros.ros.bag.interrupt import RunInterruptedError, signals_raise
from fasthmr_ros.samples.bag import write_sample_bag


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_mid_run_finalizes_a_partial_bag(tmp_path: Path, sig: signal.Signals) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    write_sample_bag(src, num_frames=12)
    model, body = resolve_model(None), resolve_body_model(None, None)
    pipeline = Pipeline(MeshEstimator(model.model, body.body), PipelineConfig())
    seen: list[int] = []

    def on_frame(*_: Any) -> None:  # the real signal, sent to this process after frame 4
        seen.append(1)
        if len(seen) == 4:
            os.kill(os.getpid(), sig)

    processor = BagProcessor(
        src, dst, pipeline, pipeline.faces, BagConfig(), on_frame=on_frame, progress=False
    )
    with pytest.raises(RunInterruptedError) as caught, signals_raise():
        processor.run()
    assert caught.value.exit_code == 128 + sig
    assert caught.value.frames_done == 4 and caught.value.frames_total == 12
    meta = yaml.safe_load((dst / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["custom_data"]["fasthmr.complete"] == "false"
    with Reader(dst) as reader:
        humans = [c for c in reader.connections if c.topic.endswith("humans")]
        assert humans and sum(1 for _ in reader.messages(connections=humans)) == 4
