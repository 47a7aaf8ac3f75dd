"""The rclpy lifecycle node (`ros2 run fasthmr_ros fasthmr_node`, `fasthmr.launch.py`).

Lifecycle: configure = check the parameters and load the model / engine (`load_pipeline`);
activate = advertise, publish the latched mesh, subscribe; deactivate = hold inputs back and
stop after the frame in flight; cleanup / shutdown = release everything.

Needs rclpy and message packages only (what the ROS 2 wheels on PyPI provide); everything else is
the code the DDS node runs too (docs/node.md has the table):
- inputs: `NodeInputs` (QoS from the parameters, `LivePairer` instead of message_filters) over
  raw rclpy subscriptions, deserialised with rosbags; images decoded by `decode_image_message`
  (cv_bridge would need rclpy message objects);
- outputs: our messages are built as rosbags objects (`fasthmr_ros.ros.messages.builders`), serialised
  from this package's .msg files and published as CDR bytes through rclpy publishers of the
  generated types, so both transports send byte-identical messages;
- diagnostics: `NodeCore`'s DiagnosticArray on /diagnostics (what diagnostic_updater publishes);
- TF: `NodeCore`'s tf2_msgs/TFMessage on /tf (what tf2_ros' broadcaster publishes), where
  tf2_msgs is installed;
- message classes by name: importlib (rosidl_runtime_py's get_message does the same).

Inference runs in its own mutually exclusive callback group (a guard condition the input
callback triggers), so the MultiThreadedExecutor keeps serving inputs, parameters and lifecycle
services while a frame is processed.

Parameters: every `NodeConfig` field, declared with its description and range
(`params.SPECS`); the run-time ones (thresholds, marker rate, TF, mesh markers) apply to
the next frame; the others are refused while configured (deactivate, clean up, set, configure).
Parameters the node does not own (use_sim_time, a library's) are left alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from typing import Any

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.messages.hri import OUTPUT_TYPES as HRI_OUTPUT_TYPES
from fasthmr_ros.ros.messages.typestore import (
    DIAGNOSTIC_ARRAY,
    HUMAN_MESH_ARRAY,
    MARKER_ARRAY,
    MESH,
    STORES,
    TF_MESSAGE,
)
from fasthmr_ros.ros.node.core import NodeCore
from fasthmr_ros.ros.node.inputs import NodeInputs, input_types
from fasthmr_ros.ros.node.params import SPECS, ParameterError, check_value
from fasthmr_ros.ros.node.setup import load_pipeline
from fasthmr_ros.ros.transport.rclpy import RclpyTransport, has_message, message_class

NODE_NAME = "fasthmr_node"
PYTHON_LOGGERS = ("fasthmr", "fasthmr_ros")  # the package's Python loggers, routed to the node's
SPIN_PERIOD_S = 0.2  # how often the spin loop looks for SIGINT / SIGTERM
OUTPUT_TYPES = (HUMAN_MESH_ARRAY, MESH, MARKER_ARRAY, DIAGNOSTIC_ARRAY)
TF_MISSING = "publish_tf needs tf2_msgs, which is not installed (the ROS 2 wheels on PyPI lack it)"


class RosLogHandler(logging.Handler):
    """Python logging (NodeCore, the pipeline) -> the node's ROS logger, hence /rosout."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            self.ros_logger.error(text)
        elif record.levelno >= logging.WARNING:
            self.ros_logger.warning(text)
        elif record.levelno >= logging.INFO:
            self.ros_logger.info(text)
        else:
            self.ros_logger.debug(text)


def descriptor(name: str) -> ParameterDescriptor:
    """ParameterDescriptor with description, numeric range and allowed values of one parameter."""
    spec = SPECS[name]
    kind = type(getattr(NodeConfig(), name))
    desc = ParameterDescriptor(description=spec.description, dynamic_typing=False)
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(spec.choices)
    if not spec.runtime:
        desc.additional_constraints = (desc.additional_constraints + "; " if spec.choices else "") + (
            "read at configure (deactivate, clean up, set, configure)"
        )
    if kind is float and spec.low is not None and spec.high is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=spec.low, to_value=spec.high, step=0.0)]
    if kind is int and spec.low is not None and spec.high is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return desc


class FastHMRNode(LifecycleNode):
    def __init__(self, namespace: str = "", overrides: dict[str, Any] | None = None) -> None:
        params = [Parameter(k, value=v) for k, v in (overrides or {}).items()]
        super().__init__(NODE_NAME, namespace=namespace, parameter_overrides=params)
        defaults = NodeConfig()
        for field in dataclasses.fields(NodeConfig):
            self.declare_parameter(field.name, getattr(defaults, field.name), descriptor(field.name))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.core: NodeCore | None = None
        self.inputs: NodeInputs | None = None
        self.transport: RclpyTransport | None = None
        self._inference_group = MutuallyExclusiveCallbackGroup()
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._guard: Any = None
        self._log_handler = RosLogHandler(self.get_logger())
        # rcutils severities are Python's logging levels (10 debug ... 50 fatal).
        level = int(self.get_logger().get_effective_level())
        for name in PYTHON_LOGGERS:
            logging.getLogger(name).addHandler(self._log_handler)
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = False  # printed once, by ROS

    # -- parameters --------------------------------------------------------------------------
    def config(self) -> NodeConfig:
        values = {f.name: self.get_parameter(f.name).value for f in dataclasses.fields(NodeConfig)}
        return NodeConfig(**values)

    def _on_set_parameters(self, params: list[Parameter[Any]]) -> SetParametersResult:
        try:
            for param in params:
                if param.name not in SPECS:
                    continue  # not ours (use_sim_time, a library's): its owner checks it
                value = check_value(param.name, param.value)
                if param.name == "publish_tf" and value and not has_message(TF_MESSAGE):
                    raise ParameterError(TF_MISSING)
                if self.core is None:
                    continue  # unconfigured: everything is read at configure
                if not SPECS[param.name].runtime:
                    raise ParameterError(
                        f"{param.name} is read at configure: deactivate, clean up, set it, configure"
                    )
                self.core.set_parameter(param.name, value)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        cfg = self.config()
        distro = os.environ.get("ROS_DISTRO", "")
        if distro in STORES and distro != cfg.ros_store:
            # Standard messages differ between distros (Marker grew fields in Jazzy): the bytes
            # we publish must follow the definitions of the ROS 2 we run in.
            self.get_logger().info(f"ros_store {cfg.ros_store} -> {distro} (ROS_DISTRO)")
            cfg.ros_store = distro
        try:
            hri_types = HRI_OUTPUT_TYPES if cfg.hri else ()
            for msgtype in [*input_types(cfg).values(), *OUTPUT_TYPES, *hri_types]:
                message_class(msgtype)  # a clear error now rather than at activation
            if cfg.publish_tf and not has_message(TF_MESSAGE):
                raise ParameterError(TF_MISSING)
            loaded = load_pipeline(cfg)
        except (FastHMRError, ValueError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:  # a broken install or GPU: fail the transition, keep the node
            self.get_logger().error(f"configure failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.transport = RclpyTransport(self, cfg.ros_store, self._input_group)
        self.core = NodeCore(
            cfg,
            loaded.pipeline,
            self.transport,
            backend=loaded.backend,
            template_vertices=loaded.template_vertices,
            with_tf=has_message(TF_MESSAGE),
            logger=logging.getLogger("fasthmr.node"),
            on_pending=lambda: self._guard.trigger(),
            unpaired=lambda: self.inputs.unpaired() if self.inputs is not None else {},
        )
        self.inputs = NodeInputs(cfg, self.core, self.transport)
        self._guard = self.create_guard_condition(self._process_pending, self._inference_group)
        b = loaded.backend
        self.get_logger().info(f"backend {b.backend} {b.precision} on {b.device}: {b.reason}")
        if loaded.pipeline.embedded:
            from fasthmr_ros.models.default import EMBEDDED_WARNING

            self.get_logger().warning(EMBEDDED_WARNING)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        assert self.core is not None and self.inputs is not None
        self.core.start(worker=False)
        self.inputs.activate()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        if self.inputs is not None:
            self.inputs.deactivate()
        if self.core is not None:
            self.core.stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def _process_pending(self) -> None:
        """Guard-condition callback (rclpy wants one that returns nothing)."""
        if self.core is not None:
            self.core.process_pending()

    def release(self) -> None:
        """Stop the worker and drop every endpoint (cleanup, shutdown, or the process ending)."""
        if self.inputs is not None:
            self.inputs.deactivate()
        if self.core is not None:
            self.core.stop()
        if self.transport is not None:
            self.transport.close()
        if self._guard is not None:
            self.destroy_guard_condition(self._guard)
        self.core = self.inputs = self.transport = self._guard = None

    def destroy_node(self) -> None:
        for name in PYTHON_LOGGERS:
            logging.getLogger(name).removeHandler(self._log_handler)
            logging.getLogger(name).setLevel(logging.NOTSET)
            logging.getLogger(name).propagate = True
        super().destroy_node()


def run_rclpy(cfg: NodeConfig, namespace: str = "", args: list[str] | None = None) -> int:
    """Start the node with `cfg` as parameter overrides, configure and activate it, spin."""
    stop = _init(args)
    overrides = {name: getattr(cfg, name) for name in SPECS}
    return _spin(FastHMRNode(namespace, overrides), stop, activate=True)


def main(args: list[str] | None = None) -> int:
    """`ros2 run` / launch entry point: parameters from the command line or a params file; the
    launch file (or `ros2 lifecycle set`) drives configure and activate."""
    stop = _init(args)
    return _spin(FastHMRNode(), stop, activate=False)


def _init(args: list[str] | None) -> threading.Event:
    """rclpy.init with SIGINT and SIGTERM setting the returned event instead of rclpy's handlers:
    with those, a node that had been through the shutdown transition was seen to stay in its
    executor's wait after SIGTERM. The spin loop checks the event every SPIN_PERIOD_S."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _spin(node: FastHMRNode, stop: threading.Event, activate: bool) -> int:
    """Serve `node` (configured and activated first when `activate`) on a multi-threaded executor
    until SIGINT, SIGTERM or shutdown, then release it whatever happened."""
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        if activate:
            node.trigger_configure()
            node.trigger_activate()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    finally:
        node.release()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
