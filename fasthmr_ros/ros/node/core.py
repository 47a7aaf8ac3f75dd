"""The live node's logic, whatever carries the messages (rclpy or plain DDS).

Why a newest-frame slot and one worker: a camera gives 30 Hz, a heavy model may manage 5 Hz;
queued frames would only grow the latency. So a frame that arrives while the worker is busy
replaces the pending one (the replaced one is counted as dropped) and the worker always takes
the newest. With several cameras there is one slot per camera and the worker takes every
camera's newest frame at once, their crops in one forward pass (`pipeline.multi_camera`): no
camera waits behind another, and drops are counted per camera.

With `target_frame` set, results are re-expressed at the image's stamp using `tf` (a `TfBuffer`
the front end feeds from /tf and /tf_static); without a usable transform a frame is published in
the camera frame, its header saying so, and counted with the reason and the frames involved.

Nothing here raises into a transport callback: every bad input is logged, counted by reason
and skipped.

Outputs (rosbags message objects through the `Transport`): HumanMeshArray per processed frame,
the fixed mesh once (latched), a rate-limited MarkerArray, optional TF per person (TFMessage on
/tf, what tf2_ros' broadcaster sends) and DiagnosticArray on /diagnostics (what
diagnostic_updater sends), whichever transport runs it.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.images import decode_image_message
from fasthmr_ros.pipeline.multi_camera import CameraFrame, process_cameras
from fasthmr_ros.pipeline.result import FrameResult
from fasthmr_ros.ros.frames import FrameInputs, FrameSkipError, frame_inputs
from fasthmr_ros.ros.messages import builders
from fasthmr_ros.ros.messages.hri import TRACKED_TOPIC, body_id, hri_messages, tracked_msg
from fasthmr_ros.ros.messages.markers import MarkerStyle, frame_markers
from fasthmr_ros.ros.messages.typestore import (
    DIAGNOSTIC_ARRAY,
    HUMAN_MESH_ARRAY,
    IDS_LIST,
    MARKER_ARRAY,
    MESH,
    TF_MESSAGE,
)
from fasthmr_ros.ros.node.cameras import camera_inputs
from fasthmr_ros.ros.node.params import RUNTIME_PARAMETERS, ParameterError, check_value, vertices_needed
from fasthmr_ros.ros.tf_buffer import TfBuffer, express_in
from fasthmr_ros.ros.transport.base import DEFAULT, LATCHED, Publisher, Transport
from fasthmr_ros.runtime.select import BackendChoice

TF_TOPIC = "/tf"
DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTIC_NAME = "fasthmr: human mesh recovery"
STATS_WINDOW = 100  # frames over which latency and model time are summarised
RATE_WINDOW_S = 3.0  # seconds over which input and output rates are measured
STALL_S = 3.0  # no input for this long (after some) is a warning
OK, WARN, ERROR = 0, 1, 2

Decoder = Callable[[Any], np.ndarray]  # image message -> (H, W, 3) RGB uint8


@dataclass
class FrameInput:
    """One paired input; the image is decoded by the worker, so dropped frames cost nothing."""

    stamp_ns: int
    received_ns: int
    image: Any
    camera_info: Any | None  # None: none came (use_default_intrinsics)
    detections: Any | None = None
    decode: Decoder = decode_image_message
    camera: int = 0  # index into the node's cameras


class RateMeter:
    """Events per second over the last RATE_WINDOW_S (0 when fewer than two events)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=512)

    def tick(self, now: float) -> None:
        self._times.append(now)

    def rate(self, now: float) -> float:
        recent = [t for t in self._times if now - t <= RATE_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(now - recent[0], recent[-1] - recent[0])


@dataclass
class NodeStats:
    """A consistent copy of the counters (tests and diagnostics read this)."""

    frames_in: int
    processed: int
    dropped: int
    malformed: dict[str, int]  # by reason: transport, image_decode, camera_info, detections, unpaired...
    errors: dict[str, int]  # by reason: pipeline, publish
    latencies_ms: list[float]  # last STATS_WINDOW image-stamp -> publish latencies
    model_ms: list[float]  # last STATS_WINDOW pipeline per-frame times (sum of its stages)
    input_rate_hz: float
    output_rate_hz: float
    markers_published: int
    time_jumps: int
    default_intrinsics: int  # frames without a usable CameraInfo: HMR 2.0's focal guess used
    unpaired: dict[str, int]  # images that never met their CameraInfo / detections, by reason
    newest_input_ns: int | None  # stamp of the last frame submitted
    last_output_ns: int | None  # stamp of the last frame published
    per_camera: dict[str, dict[str, int]]  # camera name -> frames in, processed, dropped
    camera_frame: dict[str, int]  # frames left in the camera frame (no transform), by reason
    tf_error: str  # the last such reason in words, with the frames involved


class NodeCore:
    """Construct, `start()`, feed `submit()`, `stop()`. Thread-safe."""

    def __init__(
        self,
        cfg: NodeConfig,
        pipeline: Pipeline,
        transport: Transport,
        backend: BackendChoice | None = None,
        template_vertices: np.ndarray | None = None,
        with_tf: bool = True,
        logger: logging.Logger | None = None,
        on_pending: Callable[[], None] | None = None,
        unpaired: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.cfg = replace(cfg)
        self.pipeline = pipeline
        self.cameras = camera_inputs(cfg)
        self.pipelines = [pipeline] + [pipeline.sibling() for _ in self.cameras[1:]]
        # Fed by the front end from /tf and /tf_static when target_frame is set.
        self.tf = TfBuffer(tolerance_s=cfg.tf_tolerance_s)
        self.transport = transport
        self.backend = backend
        self.template_vertices = template_vertices
        # False where the transport lacks tf2_msgs/TFMessage (the caller then refuses publish_tf).
        self.with_tf = with_tf
        self.log = logger or logging.getLogger("fasthmr.node")
        self.store = cfg.ros_store
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._marker_cond = threading.Condition()
        self._marker_frames: dict[int, FrameResult] = {}  # newest result per camera awaiting markers
        self._marker_thread: threading.Thread | None = None
        self._pending: dict[int, FrameInput] = {}  # newest frame per camera
        # Called after each submit when there is no worker thread (rclpy: trigger a guard condition).
        self.on_pending = on_pending
        self._running = False
        self._worker: threading.Thread | None = None
        self._diag_thread: threading.Thread | None = None
        self._changes: dict[str, Any] = {}
        self._publishers: dict[str, Publisher] = {}
        self._frames_in = self._processed = self._dropped = self._markers = self._time_jumps = 0
        self._default_intrinsics = 0  # frames that used HMR 2.0's focal guess
        self._camera_counts: dict[str, Counter[int]] = {k: Counter() for k in ("in", "processed", "dropped")}
        self._camera_frame: Counter[str] = Counter()
        self._tf_error = ""
        self._tracked: dict[int, tuple[int, list[str]]] = {}  # camera -> (stamp, ROS4HRI body ids)
        self._malformed: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=STATS_WINDOW)
        self._model_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._in_rate, self._out_rate = RateMeter(), RateMeter()
        self._last_input = 0.0
        self._last_marker = -float("inf")
        self._last_stamp: dict[int, int] = {}
        self._newest_input: int | None = None
        self._last_output: int | None = None
        self._error_logged: set[str] = set()
        # Images that never met their partners, by reason (the front end's `NodeInputs`).
        self.unpaired = unpaired

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, worker: bool = True) -> None:
        """Advertise, publish the latched mesh, start the threads. `worker=False`: no inference
        thread; the caller runs `process_pending()` when `on_pending` tells it a frame waits."""
        if self._running:
            return
        if not self._publishers:
            self._advertise()
        self._running = True
        self._stopping.clear()
        if worker:
            self._worker = threading.Thread(target=self._work, name="fasthmr-inference", daemon=True)
            self._worker.start()
        self._marker_thread = threading.Thread(target=self._marker_work, name="fasthmr-markers", daemon=True)
        self._marker_thread.start()
        self._diag_thread = threading.Thread(target=self._diagnostics_loop, name="fasthmr-diag", daemon=True)
        self._diag_thread.start()

    def _advertise(self) -> None:
        """Once per node: publishers, and the latched mesh (late joiners get it from DDS)."""
        cfg = self.cfg
        self._publishers = {
            "mesh": self.transport.advertise(cfg.mesh_topic, MESH, LATCHED),
            "diagnostics": self.transport.advertise(DIAGNOSTICS_TOPIC, DIAGNOSTIC_ARRAY, DEFAULT),
        }
        for i, camera in enumerate(self.cameras):
            self._publishers[f"humans:{i}"] = self.transport.advertise(
                camera.output(cfg.humans_topic), HUMAN_MESH_ARRAY, DEFAULT
            )
            self._publishers[f"markers:{i}"] = self.transport.advertise(
                camera.output(cfg.markers_topic), MARKER_ARRAY, DEFAULT
            )
        if cfg.hri:
            self._publishers["hri:tracked"] = self.transport.advertise(TRACKED_TOPIC, IDS_LIST, DEFAULT)
        if self.with_tf:
            self._publishers["tf"] = self.transport.advertise(TF_TOPIC, TF_MESSAGE, DEFAULT)
        self._publish("mesh", builders.mesh_msg(self.pipeline.faces, self.template_vertices, self.store))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking frames, let the current one finish, discard the pending one."""
        with self._cond:
            self._running = False
            self._pending = {}
            self._cond.notify_all()
        self._stopping.set()
        with self._marker_cond:
            self._marker_frames = {}
            self._marker_cond.notify_all()
        for thread in (self._worker, self._marker_thread, self._diag_thread):
            if thread is not None:
                thread.join(timeout)
        self._worker = self._marker_thread = self._diag_thread = None

    @property
    def running(self) -> bool:
        return self._running

    # -- input -------------------------------------------------------------------------------
    def submit(self, frame: FrameInput) -> None:
        """Called from transport threads: put the frame in the slot, never block on inference."""
        now = time.monotonic()
        with self._cond:
            if not self._running:
                return
            self._frames_in += 1
            self._camera_counts["in"][frame.camera] += 1
            self._in_rate.tick(now)
            self._last_input = now
            if frame.camera in self._pending:
                self._dropped += 1
                self._camera_counts["dropped"][frame.camera] += 1
            self._pending[frame.camera] = frame
            self._newest_input = frame.stamp_ns
            self._cond.notify()
        if self.on_pending is not None:
            self.on_pending()

    def add_transforms(self, msg: Any, static: bool) -> None:
        """A /tf or /tf_static TFMessage for target_frame lookups (transport threads). Our own
        body frames are skipped (nothing is looked up from them); a bad transform is counted."""
        for stamped in msg.transforms:
            if stamped.child_frame_id.lstrip("/").startswith(self.cfg.tf_prefix):
                continue
            try:
                self.tf.add(stamped, static)
            except ValueError as exc:
                self._reject("transform", str(exc), expected=False)

    # -- run-time parameters -----------------------------------------------------------------
    def set_parameter(self, name: str, value: Any) -> Any:
        """Change a run-time parameter; applied before the next frame. Returns the value as the
        node keeps it (converted to the field's type); ParameterError if refused."""
        if name not in RUNTIME_PARAMETERS:
            raise ParameterError(f"{name} cannot change at run time (restart the node, or reconfigure it)")
        value = check_value(name, value)
        with self._cond:
            self._changes[name] = value
        return value

    def _apply_changes(self) -> None:
        with self._cond:
            changes, self._changes = self._changes, {}
        for name, value in changes.items():
            setattr(self.cfg, name, value)
            for pipe in self.pipelines:
                self._apply_to(pipe, name, value)
            self.log.info("parameter %s = %r", name, value)

    def _apply_to(self, pipe: Pipeline, name: str, value: Any) -> None:
        if name in ("score_threshold", "min_box_size"):
            setattr(pipe.config, name, value)
        if name in ("score_threshold", "nms_iou") and pipe.detector is not None:
            setattr(pipe.detector, name, value)
        if name == "tracker_iou_threshold":
            pipe.config.tracker.iou_threshold = value
            pipe.tracker.iou_threshold = value
        if name == "mesh_markers":
            pipe.set_output_vertices(vertices_needed(self.cfg))

    # -- worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while self._running and not self._pending:
                    self._cond.wait()
                if not self._running:
                    return
            self.process_pending()

    def process_pending(self) -> bool:
        """Process the newest pending frame of every camera, if any (the worker thread, or an
        executor callback when `start(worker=False)`); never raises. Returns whether a frame was taken."""
        with self._cond:
            frames, self._pending = self._pending, {}
            if not frames or not self._running:
                return False
        try:
            self._apply_changes()
            self._handle(frames)
        except Exception as exc:  # the worker must survive anything one frame does
            self._error("internal", exc)
        return True

    def _handle(self, frames: dict[int, FrameInput]) -> None:
        """One step: every camera's newest frame; several cameras share one forward pass."""
        ready: list[CameraFrame | None] = [None] * len(self.pipelines)
        for i, frame in frames.items():
            inputs = self._prepare(frame)
            if inputs is None:
                continue
            last = self._last_stamp.get(i)
            if last is not None and frame.stamp_ns < last:
                # A replayed bag looped or the clock jumped back: the tracks belong to another time.
                self.pipelines[i].reset()
                with self._cond:
                    self._time_jumps += 1
            self._last_stamp[i] = frame.stamp_ns
            ready[i] = inputs.camera_frame(frame.stamp_ns, frame.image.header.frame_id)
        for i, result in enumerate(process_cameras(self.pipelines, ready)):
            if isinstance(result, Exception):
                self._error("pipeline", result)
            elif result is not None:
                self._publish_frame(result, i)

    def _prepare(self, frame: FrameInput) -> FrameInputs | None:
        try:
            inputs = frame_inputs(
                frame.image,
                frame.camera_info,
                frame.detections,
                frame.stamp_ns,
                use_default_intrinsics=self.cfg.use_default_intrinsics,
                decode=frame.decode,
            )
        except FrameSkipError as skip:
            self._reject(skip.reason, skip.detail, skip.expected)
            return None
        if inputs.default_intrinsics:
            with self._cond:
                self._default_intrinsics += 1
            self._log_once("default_intrinsics", "no usable CameraInfo: using HMR 2.0's focal guess", True)
        return inputs

    def _reject(self, reason: str, detail: str, expected: bool) -> None:
        with self._cond:
            self._malformed[reason] += 1
        self._log_once(reason, f"skipping a frame ({reason}): {detail}", expected)

    def _error(self, reason: str, exc: Exception) -> None:
        with self._cond:
            self._errors[reason] += 1
        self._log_once(reason, f"{reason} failed on a frame: {type(exc).__name__}: {exc}", False)

    def _log_once(self, reason: str, text: str, expected: bool) -> None:
        """The first occurrence of a reason in full, later ones at debug level (no log floods)."""
        if reason in self._error_logged:
            self.log.debug(text)
            return
        self._error_logged.add(reason)
        if expected:
            self.log.warning(text + " (further ones are counted in the diagnostics)")
        else:
            self.log.exception(text + " (further ones are counted in the diagnostics)")

    # -- output ------------------------------------------------------------------------------
    def _publish(self, key: str, msg: Any) -> bool:
        try:
            self._publishers[key].publish(msg)
        except Exception as exc:
            self._error("publish", exc)
            return False
        return True

    def _placed(self, result: FrameResult) -> FrameResult:
        """`result` in target_frame, or in its camera frame (counted) when no transform is usable."""
        placed, error = express_in(result, self.tf, self.cfg.target_frame)
        if error is not None:
            with self._cond:
                self._camera_frame[error.reason] += 1
                self._tf_error = str(error)
            self._log_once(f"tf:{error.reason}", f"publishing in the camera frame: {error}", True)
        return placed

    def _publish_frame(self, camera_result: FrameResult, camera: int = 0) -> None:
        cfg = self.cfg
        result = self._placed(camera_result)
        humans = builders.frame_to_msg(result, cfg.publish_vertices, self.store)
        if not self._publish(f"humans:{camera}", humans):
            return
        now = time.monotonic()
        latency_ms = (self.transport.now_ns() - result.stamp_ns) / 1e6
        with self._cond:
            self._processed += 1
            self._camera_counts["processed"][camera] += 1
            self._last_output = result.stamp_ns
            self._out_rate.tick(now)
            self._latencies.append(latency_ms)
            self._model_ms.append(float(sum(result.timings_ms.values())))
        if (cfg.publish_tf or cfg.hri) and result.persons:
            self._publish_tf(result, camera)
        if cfg.hri:
            self._publish_hri(result, camera_result.frame_id, camera)
        if cfg.marker_rate_hz > 0 and now - self._last_marker >= 1.0 / cfg.marker_rate_hz / len(self.cameras):
            self._last_marker = now
            with self._marker_cond:
                self._marker_frames[camera] = result  # a frame still waiting for its markers is superseded
                self._marker_cond.notify()

    def body_ids(self, result: FrameResult, camera: int = 0) -> list[str]:
        """ROS4HRI ids of the persons of a result (camera name in front with several cameras)."""
        return [body_id(p.track_id, self.cameras[camera].name) for p in result.persons]

    def _publish_hri(self, result: FrameResult, image_frame_id: str, camera: int) -> None:
        """ROS4HRI: per-body topics (advertised as bodies appear) and the union of every camera's bodies."""
        ids = self.body_ids(result, camera)
        for topic, msgtype, msg in hri_messages(result, ids, image_frame_id, self.store):
            key = f"hri:{topic}"
            if key not in self._publishers:
                try:
                    self._publishers[key] = self.transport.advertise(topic, msgtype, DEFAULT)
                except Exception as exc:
                    self._error("publish", exc)
                    continue
            self._publish(key, msg)
        self._tracked[camera] = (result.stamp_ns, ids)
        # A camera that stopped sending no longer vouches for its bodies.
        recent = result.stamp_ns - round(STALL_S * 1e9)
        everyone = [
            body
            for c in sorted(self._tracked)
            for body in self._tracked[c][1]
            if self._tracked[c][0] >= recent
        ]
        self._publish("hri:tracked", tracked_msg(result.stamp_ns, image_frame_id, everyone, self.store))

    def _marker_work(self) -> None:
        """Markers off the inference thread, newest frame only: RViz output never delays inference."""
        while True:
            with self._marker_cond:
                while self._running and not self._marker_frames:
                    self._marker_cond.wait()
                if not self._running:
                    return
                camera = next(iter(self._marker_frames))
                result = self._marker_frames.pop(camera)
            cfg = self.cfg
            try:
                style = MarkerStyle(lifetime_s=cfg.marker_lifetime_s)
                markers = frame_markers(result, self.pipeline.faces, cfg.mesh_markers, style, self.store)
            except Exception as exc:
                self._error("markers", exc)
                continue
            if self._publish(f"markers:{camera}", markers):
                with self._cond:
                    self._markers += 1

    def transforms(self, result: FrameResult, camera: int = 0) -> list[Any]:
        """geometry_msgs/TransformStamped per person, child `<tf_prefix><body id>` of the frame
        the results are expressed in."""
        children = [f"{self.cfg.tf_prefix}{body}" for body in self.body_ids(result, camera)]
        return builders.body_transforms(result, children, self.store)

    def _publish_tf(self, result: FrameResult, camera: int) -> None:
        if self.with_tf:
            self._publish("tf", builders.tf_message(self.transforms(result, camera), self.store))

    # -- statistics and diagnostics ----------------------------------------------------------
    def stats(self) -> NodeStats:
        now = time.monotonic()
        with self._cond:
            malformed = Counter(self._malformed)
            for topic, count in self.transport.malformed.items():
                malformed[f"transport:{topic}"] += count
            return NodeStats(
                frames_in=self._frames_in,
                processed=self._processed,
                dropped=self._dropped,
                malformed=dict(malformed),
                errors=dict(self._errors),
                latencies_ms=list(self._latencies),
                model_ms=list(self._model_ms),
                input_rate_hz=self._in_rate.rate(now),
                output_rate_hz=self._out_rate.rate(now),
                markers_published=self._markers,
                time_jumps=self._time_jumps,
                default_intrinsics=self._default_intrinsics,
                unpaired=self.unpaired(),
                newest_input_ns=self._newest_input,
                last_output_ns=self._last_output,
                per_camera={
                    camera.name or "camera": {
                        k: self._camera_counts[k][i] for k in ("in", "processed", "dropped")
                    }
                    for i, camera in enumerate(self.cameras)
                },
                camera_frame=dict(self._camera_frame),
                tf_error=self._tf_error,
            )

    def diagnostic_values(self) -> tuple[int, str, dict[str, str]]:
        """(level, summary, key -> value) of the /diagnostics status."""
        s = self.stats()
        lat = s.latencies_ms
        values = {
            "input rate (Hz)": f"{s.input_rate_hz:.2f}",
            "output rate (Hz)": f"{s.output_rate_hz:.2f}",
            "latency median (ms)": f"{statistics.median(lat):.1f}" if lat else "n/a",
            "latency max (ms)": f"{max(lat):.1f}" if lat else "n/a",
            "model time median (ms)": f"{statistics.median(s.model_ms):.1f}" if s.model_ms else "n/a",
            "frames in": str(s.frames_in),
            "frames processed": str(s.processed),
            "frames dropped (newer frame arrived)": str(s.dropped),
            "frames with default intrinsics (no usable CameraInfo)": str(s.default_intrinsics),
            "unpaired": str(sum(s.unpaired.values())),
            "malformed": str(sum(s.malformed.values())),
            "errors": str(sum(s.errors.values())),
        }
        values.update({f"malformed: {k}": str(v) for k, v in sorted(s.malformed.items())})
        values.update({f"errors: {k}": str(v) for k, v in sorted(s.errors.items())})
        values.update({f"unpaired: {k}": str(v) for k, v in sorted(s.unpaired.items())})
        if len(self.cameras) > 1:
            for name, counts in s.per_camera.items():
                values[f"camera {name}: in / processed / dropped"] = (
                    f"{counts['in']} / {counts['processed']} / {counts['dropped']}"
                )
        if self.cfg.target_frame:
            kept = sum(s.camera_frame.values())
            values[f"frames left in the camera frame (no transform to {self.cfg.target_frame})"] = str(kept)
            values.update({f"camera frame: {k}": str(v) for k, v in sorted(s.camera_frame.items())})
            if s.tf_error:
                values["last transform error"] = s.tf_error
        if self.backend is not None:
            values["backend"] = f"{self.backend.backend} {self.backend.precision} on {self.backend.device}"
            values["backend reason"] = self.backend.reason
        values["model"] = self.pipeline.model_description
        values["body model"] = self.pipeline.body_description
        level, summary = OK, "running"
        if self.pipeline.embedded:
            level, summary = WARN, "embedded default model: trained on synthetic stand-in bodies only"
        if s.frames_in and time.monotonic() - self._last_input > STALL_S:
            level, summary = WARN, f"no input for more than {STALL_S:.0f} s"
        if s.errors and s.processed == 0:
            level, summary = ERROR, "every frame failed so far"
        return level, summary, values

    def diagnostics_msg(self) -> Any:
        level, summary, values = self.diagnostic_values()
        hardware_id = self.backend.device if self.backend is not None else ""
        return builders.diagnostics_message(
            self.transport.now_ns(), level, DIAGNOSTIC_NAME, summary, hardware_id, values, self.store
        )

    def _diagnostics_loop(self) -> None:
        period = 1.0 / self.cfg.diagnostics_rate_hz
        while not self._stopping.wait(period):
            self._publish("diagnostics", self.diagnostics_msg())
