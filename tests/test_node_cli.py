"""`fasthmr node`: argument handling, and a live run over DDS in a separate process (no ROS)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fasthmr_ros.cli import node as node_cli
from fasthmr_ros.cli.main import main
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag_input import camera_info_message, image_message
from fasthmr_ros.ros.transport.base import DEFAULT
from fasthmr_ros.ros.transport.dds import DdsTransport
from fasthmr_ros.ros.typestore import CAMERA_INFO, HUMAN_MESH_ARRAY, IMAGE

ROOT = Path(__file__).resolve().parents[1]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    node_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_overrides_are_typed_and_checked() -> None:
    cfg = node_cli.node_config(
        parse(
            "--params",
            str(ROOT / "config/fasthmr.yaml"),
            "-p",
            "device=cpu",
            "-p",
            "publish_tf=true",
            "-p",
            "score_threshold=0.5",
            "-p",
            "tf_prefix=0",
        )
    )
    assert (cfg.device, cfg.publish_tf, cfg.score_threshold, cfg.tf_prefix) == ("cpu", True, 0.5, "0")
    with pytest.raises(FastHMRError, match="outside"):
        node_cli.node_config(parse("-p", "score_threshold=2"))
    with pytest.raises(FastHMRError, match="NAME=VALUE"):
        node_cli.node_config(parse("-p", "nonsense"))
    with pytest.raises(FastHMRError, match="cannot use parameters file"):
        node_cli.node_config(parse("--params", "/nonexistent.yaml"))


def test_rclpy_transport_without_ros_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rclpy", None)  # rclpy missing: importing it raises ImportError
    monkeypatch.delitem(sys.modules, "fasthmr_ros.ros.node", raising=False)
    assert main(["node", "--transport", "rclpy", "-p", "device=cpu"]) == 2
    err = capsys.readouterr().err
    assert "--transport dds" in err and "setup.sh --ros" in err


def test_live_node_over_dds_in_its_own_process() -> None:
    domain = 1 + (os.getpid() * 17 + time.monotonic_ns() // 1000) % 200
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "fasthmr_ros.cli.main", "node", "--transport", "dds"]
    command += ["--domain-id", str(domain), "--namespace", "robot"]
    command += ["-p", "device=cpu", "-p", "cpu_threads=1", "-p", "marker_rate_hz=0.0"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    got: list[int] = []
    try:
        camera = CameraIntrinsics(150.0, 150.0, 64.0, 48.0, 128, 96)
        with DdsTransport(domain) as side:
            side.subscribe(
                "/robot/fasthmr/humans",
                HUMAN_MESH_ARRAY,
                lambda m, _: got.append(m.header.stamp.sec),
                DEFAULT,
            )
            images = side.advertise("/camera/image_raw", IMAGE, DEFAULT)
            infos = side.advertise("/camera/camera_info", CAMERA_INFO, DEFAULT)
            deadline = time.monotonic() + 60
            sec = 1000
            while not got and time.monotonic() < deadline and proc.poll() is None:
                sec += 1
                infos.publish(camera_info_message(camera, sec * 10**9, "cam"))
                images.publish(image_message(np.zeros((96, 128, 3), np.uint8), sec * 10**9, "cam"))
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert got, f"no output from the node; its output:\n{out}"
    assert 1000 < got[0] <= sec  # one of the stamps we sent
    assert proc.returncode == 0, out
    assert "/robot/fasthmr/humans" in out and "EMBEDDED DEFAULT" in out
