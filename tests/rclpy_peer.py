"""A real rclpy peer for the node's tests: its own context and DDS domain, spun in a thread.

The node runs in another process (`fasthmr node --transport rclpy`), as on a robot; the peer
talks to it only through ROS 2: lifecycle and parameter services, topics.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("FASTHMR_REQUIRE_ROS") == "1":  # scripts/test.sh: fail, never skip
    import rclpy
else:
    rclpy = pytest.importorskip("rclpy", reason="ROS 2 missing: bash scripts/setup.sh --ros")

# isort: split

from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

NODE = "/fasthmr_node"
FASTHMR = Path(sys.executable).with_name("fasthmr")
ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


def qos(reliable: bool = True, latched: bool = False, depth: int = 10) -> QoSProfile:
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class Inbox:
    """Messages of one subscription, thread-safe."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, msg: Any) -> None:
        with self._lock:
            self._items.append(msg)

    def msgs(self) -> list[Any]:
        with self._lock:
            return list(self._items)


class Peer:
    """An rclpy node in this process on `domain`; `call` invokes a service synchronously."""

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("fasthmr_test_peer", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(Exception):  # the context shutting down ends the spin
            self.executor.spin()

    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 30.0) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            assert client.wait_for_service(timeout_sec=timeout), f"no service {name}"
            future = client.call_async(request)
            assert wait_for(future.done, timeout), f"{name} did not answer"
            return future.result()
        finally:
            self.node.destroy_client(client)

    def state(self) -> str:
        return self.call(GetState, f"{NODE}/get_state", GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self.call(ChangeState, f"{NODE}/change_state", request).success

    def subscribe(self, msg_type: Any, topic: str, profile: QoSProfile) -> Inbox:
        inbox = Inbox()
        self.node.create_subscription(msg_type, topic, inbox, profile)
        return inbox

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)


def own_domain() -> int:
    """A DDS domain of this test run's own, so concurrent runs on one host never meet."""
    return 1 + (os.getpid() * 7 + time.monotonic_ns() // 1000) % 100


class NodeProcess:
    """The node with the tiny CPU settings plus `params` (NAME=VALUE): `fasthmr node --transport
    rclpy` (configured and activated at once), or with `ros2_run` the `ros2 run` entry point
    (scripts/ros/fasthmr_node with --ros-args and the package's parameters file; unconfigured)."""

    def __init__(self, domain: int, *params: str, ros2_run: bool = False) -> None:
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
        env["PYTHONFAULTHANDLER"] = "1"  # a hung node prints every thread's stack on SIGABRT
        # torch fp32 on the CPU: no path choice at load.
        params = ("device=cpu", "cpu_threads=1", "backend=cpu", "precision=fp32", *params)
        if ros2_run:
            args = [sys.executable, str(ROOT / "scripts" / "ros" / "fasthmr_node"), "--ros-args"]
            args += ["--params-file", str(ROOT / "config" / "fasthmr.yaml")]
            for param in params:
                args += ["-p", param.replace("=", ":=", 1)]
        else:
            args = [str(FASTHMR), "node", "--transport", "rclpy"]
            for param in params:
                args += ["-p", param]
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, str]:
        """Send `sig`, wait for the end; (exit code, everything it printed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            out, _ = self.proc.communicate()
            return -1, out
        return self.proc.returncode, out
