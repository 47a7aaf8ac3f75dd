"""The rclpy lifecycle node (`ros2 run fasthmr_ros fasthmr_node`, `fasthmr.launch.py`).

Lifecycle: configure = check the parameters and load the model / engine (`load_pipeline`);
activate = advertise, publish the latched mesh, subscribe; deactivate = unsubscribe and stop
after the frame in flight; cleanup / shutdown = release everything.

Inputs: message_filters' ApproximateTimeSynchronizer over Image (or CompressedImage) +
CameraInfo (+ Detection2DArray) with the sensor-data QoS; the sync callback only puts the
frame into `NodeCore`'s newest-frame slot and triggers a guard condition whose callback (its
own mutually exclusive callback group, run by the MultiThreadedExecutor) does the inference.
cv_bridge converts images.

Outputs: our messages are built as rosbags objects (`fasthmr_ros.ros.convert`), serialised with
rosbags from this package's .msg files and published as raw CDR through rclpy publishers of the
generated types (rclpy publishes `bytes` as serialised messages). Both transports therefore send
byte-identical messages from one definition. TF goes through tf2_ros' broadcaster and
diagnostics through diagnostic_updater.

Parameters: every `NodeConfig` field, declared with its description and range
(`node_params.SPECS`); the run-time ones (thresholds, marker rate, TF, mesh markers) apply to
the next frame; the others are refused while configured (deactivate, clean up, set, configure).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import message_filters
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_updater import DiagnosticStatusWrapper, Updater
from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rosidl_runtime_py.utilities import get_message
from tf2_ros import TransformBroadcaster

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.images import decode_image_message
from fasthmr_ros.ros.convert import time_to_ns
from fasthmr_ros.ros.node_core import FrameInput, NodeCore
from fasthmr_ros.ros.node_params import SPECS, ParameterError, check_value
from fasthmr_ros.ros.node_setup import load_pipeline
from fasthmr_ros.ros.transport.base import MessageCallback, Publisher, QosProfile, Transport
from fasthmr_ros.ros.typestore import STORES, get_typestore

NODE_NAME = "fasthmr_node"
_LEVELS = {0: DiagnosticStatus.OK, 1: DiagnosticStatus.WARN, 2: DiagnosticStatus.ERROR}


def _rclpy_qos(qos: QosProfile) -> QoSProfile:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE,
    )


class RclpyPublisher(Publisher):
    def __init__(self, transport: RclpyTransport, topic: str, msgtype: str, publisher: Any) -> None:
        self.topic, self.msgtype = topic, msgtype
        self._transport, self._publisher = transport, publisher

    def publish(self, msg: Any) -> None:
        if isinstance(msg, (bytes, bytearray, memoryview)):
            self.publish_cdr(bytes(msg))
        else:
            self.publish_cdr(bytes(self._transport.typestore.serialize_cdr(msg, self.msgtype)))

    def publish_cdr(self, cdr: bytes) -> None:
        self._publisher.publish(cdr)  # rclpy publishes bytes as a serialised message


class RclpyTransport(Transport):
    """rosbags objects over an rclpy node: raw CDR both ways (rclpy resolves names itself)."""

    def __init__(self, node: LifecycleNode, store: str) -> None:
        super().__init__("", logging.getLogger("fasthmr.rclpy"))
        self.node = node
        self.typestore = get_typestore(store)
        self._endpoints: list[Any] = []

    def resolve(self, topic: str) -> str:
        return topic

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def advertise(self, topic: str, msgtype: str, qos: QosProfile) -> RclpyPublisher:
        publisher = self.node.create_publisher(get_message(msgtype), topic, _rclpy_qos(qos))
        self._endpoints.append(publisher)
        return RclpyPublisher(self, topic, msgtype, publisher)

    def subscribe(self, topic: str, msgtype: str, callback: MessageCallback, qos: QosProfile) -> None:
        def on_raw(raw: bytes) -> None:
            try:
                msg = self.typestore.deserialize_cdr(raw, msgtype)
            except Exception as exc:
                self.malformed[topic] += 1
                self.logger.warning("dropping malformed %s on %s: %s", msgtype, topic, exc)
                return
            callback(msg, self.now_ns())

        sub = self.node.create_subscription(get_message(msgtype), topic, on_raw, _rclpy_qos(qos), raw=True)
        self._endpoints.append(sub)

    def close(self) -> None:
        for endpoint in self._endpoints:
            if hasattr(endpoint, "publish"):
                self.node.destroy_publisher(endpoint)
            else:
                self.node.destroy_subscription(endpoint)
        self._endpoints.clear()


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


def _to_ros_transform(t: Any) -> TransformStamped:
    out = TransformStamped()
    out.header.stamp.sec, out.header.stamp.nanosec = t.header.stamp.sec, t.header.stamp.nanosec
    out.header.frame_id = t.header.frame_id
    out.child_frame_id = t.child_frame_id
    tr, rot = t.transform.translation, t.transform.rotation
    out.transform.translation.x, out.transform.translation.y, out.transform.translation.z = tr.x, tr.y, tr.z
    r = out.transform.rotation
    r.x, r.y, r.z, r.w = rot.x, rot.y, rot.z, rot.w
    return out


class FastHMRNode(LifecycleNode):
    def __init__(self, namespace: str = "", overrides: dict[str, Any] | None = None) -> None:
        params = [Parameter(k, value=v) for k, v in (overrides or {}).items()]
        super().__init__(NODE_NAME, namespace=namespace, parameter_overrides=params)
        defaults = NodeConfig()
        for field in dataclasses.fields(NodeConfig):
            self.declare_parameter(field.name, getattr(defaults, field.name), descriptor(field.name))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.core: NodeCore | None = None
        self.transport: RclpyTransport | None = None
        self._broadcaster: TransformBroadcaster | None = None
        # One updater for the node's life: it reports STALE while unconfigured.
        rate = self.get_parameter("diagnostics_rate_hz").value
        self.updater = Updater(self, period=1.0 / rate)
        self.updater.add("fasthmr: human mesh recovery", self._diagnose)
        self._subscribers: list[Any] = []
        self._sync: Any = None
        self._inference_group = MutuallyExclusiveCallbackGroup()
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._guard: Any = None
        self._bridge: Any = None

    # -- parameters --------------------------------------------------------------------------
    def config(self) -> NodeConfig:
        values = {f.name: self.get_parameter(f.name).value for f in dataclasses.fields(NodeConfig)}
        return NodeConfig(**values)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        try:
            for param in params:
                value = check_value(param.name, param.value)
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
            loaded = load_pipeline(cfg)
        except (FastHMRError, ValueError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:  # a broken install or GPU: fail the transition, keep the node
            self.get_logger().error(f"configure failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.transport = RclpyTransport(self, cfg.ros_store)
        self._broadcaster = broadcaster = TransformBroadcaster(self)
        self.core = NodeCore(
            cfg,
            loaded.pipeline,
            self.transport,
            backend=loaded.backend,
            template_vertices=loaded.template_vertices,
            tf_sink=lambda transforms: broadcaster.sendTransform([_to_ros_transform(t) for t in transforms]),
            own_diagnostics=False,
            logger=logging.getLogger("fasthmr.node"),
        )
        self._guard = self.create_guard_condition(self.core.process_pending, self._inference_group)
        self.core.on_pending = self._guard.trigger
        self.updater.setHardwareID(loaded.backend.device)
        b = loaded.backend
        self.get_logger().info(f"backend {b.backend} {b.precision} on {b.device}: {b.reason}")
        if loaded.pipeline.embedded:
            from fasthmr_ros.models.default import EMBEDDED_WARNING

            self.get_logger().warning(EMBEDDED_WARNING)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        assert self.core is not None
        cfg = self.core.cfg
        self.core.start(worker=False)
        qos = QoSProfile(
            history=qos_profile_sensor_data.history,
            depth=cfg.queue_depth,
            reliability=qos_profile_sensor_data.reliability,
            durability=qos_profile_sensor_data.durability,
        )
        image_type = get_message(
            "sensor_msgs/msg/CompressedImage" if cfg.compressed_input else "sensor_msgs/msg/Image"
        )
        topics = [
            (image_type, cfg.image_topic),
            (get_message("sensor_msgs/msg/CameraInfo"), cfg.camera_info_topic),
        ]
        if cfg.detections_topic:
            topics.append((get_message("vision_msgs/msg/Detection2DArray"), cfg.detections_topic))
        self._subscribers = [
            message_filters.Subscriber(self, kind, topic, qos_profile=qos, callback_group=self._input_group)
            for kind, topic in topics
        ]
        self._sync = message_filters.ApproximateTimeSynchronizer(
            self._subscribers, queue_size=cfg.queue_depth * 2, slop=cfg.slop_s
        )
        self._sync.registerCallback(self._on_synced)
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._unsubscribe()
        if self.core is not None:
            self.core.stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def _unsubscribe(self) -> None:
        for sub in self._subscribers:
            self.destroy_subscription(sub.sub)
        self._subscribers, self._sync = [], None

    def release(self) -> None:
        """Stop the worker and drop every endpoint (cleanup, shutdown, or the process ending)."""
        self._unsubscribe()
        if self.core is not None:
            self.core.stop()
        if self.transport is not None:
            self.transport.close()
        if self._guard is not None:
            self.destroy_guard_condition(self._guard)
        if self._broadcaster is not None:
            self.destroy_publisher(self._broadcaster.pub_tf)
        self.core = self.transport = self._guard = self._broadcaster = None

    # -- callbacks ---------------------------------------------------------------------------
    def _decode(self, msg: Any) -> Any:
        """cv_bridge where installed and able; our decoder otherwise (same encodings, clear errors)."""
        if self._bridge is None:
            try:
                from cv_bridge import CvBridge

                self._bridge = CvBridge()
            except ImportError:
                self._bridge = False
        if self._bridge:
            try:
                if hasattr(msg, "format"):
                    return self._bridge.compressed_imgmsg_to_cv2(msg, desired_encoding="rgb8")
                return self._bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")
            except Exception:
                pass  # e.g. mono16 -> rgb8 is refused by cv_bridge: ours scales it
        return decode_image_message(msg)

    def _on_synced(self, image: Any, info: Any, detections: Any = None) -> None:
        if self.core is None:
            return
        now = self.get_clock().now().nanoseconds
        self.core.submit(
            FrameInput(time_to_ns(image.header.stamp), now, image, info, detections, self._decode)
        )

    def _diagnose(self, stat: DiagnosticStatusWrapper) -> DiagnosticStatusWrapper:
        if self.core is None:
            stat.summary(DiagnosticStatus.STALE, "not configured")
            return stat
        level, summary, values = self.core.diagnostic_values()
        stat.summary(_LEVELS[level], summary)
        for key, value in values.items():
            stat.add(key, value)
        return stat


def run_rclpy(cfg: NodeConfig, namespace: str = "", args: list[str] | None = None) -> int:
    """Start the node with `cfg` as parameter overrides, configure and activate it, spin."""
    rclpy.init(args=args)
    overrides = {name: getattr(cfg, name) for name in SPECS}
    return _spin(FastHMRNode(namespace, overrides), activate=True)


def main(args: list[str] | None = None) -> int:
    """`ros2 run` / launch entry point: parameters from the command line or a params file; the
    launch file (or `ros2 lifecycle set`) drives configure and activate."""
    rclpy.init(args=args)
    return _spin(FastHMRNode(), activate=False)


def _spin(node: FastHMRNode, activate: bool) -> int:
    """Serve `node` (configured and activated first when `activate`) on a multi-threaded executor
    until Ctrl-C or shutdown, then release it whatever happened."""
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        if activate:
            node.trigger_configure()
            node.trigger_activate()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.release()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
