"""rosbag2 in -> pipeline -> rosbag2 out, with every input image accounted for.

With `target_frame` set, the 3D results are put in that frame using the bag's own /tf and
/tf_static (all read first, so an image can use transforms recorded after it); a frame without a
usable transform stays in the camera frame (its header says so) and is counted with the reason.
With `hri`, ROS4HRI body topics and body_<id> TF frames are written too. With `cameras`, every
listed camera is processed by its own pipeline (own tracks) on the one loaded model, with its
own output topics `<topic>/<name>` (as the live node names them).

Pairing is offline approximate-time sync: CameraInfo and detections (small) are read first and
indexed by header stamp; then one pass over the bag in log order copies every record through and
pairs each image with the nearest-stamp CameraInfo (and detections) within `slop_s`. An image
either yields one HumanMeshArray (possibly with nobody in it) or one counted skip with a reason;
a record that cannot be deserialised is a skip, never an abort.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.errors import ReaderError, WriterError
from tqdm import tqdm

from fasthmr_ros.config import BagConfig
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.multi_camera import process_cameras
from fasthmr_ros.pipeline.result import FrameResult
from fasthmr_ros.ros.bag.interrupt import RunInterruptedError, raise_if_interrupted
from fasthmr_ros.ros.bag.summary import MAX_EXAMPLES, BagSummary
from fasthmr_ros.ros.bag.topics import BagError, absolute_outputs, choose_cameras, choose_topics
from fasthmr_ros.ros.frames import FrameSkipError, frame_inputs
from fasthmr_ros.ros.messages import builders
from fasthmr_ros.ros.messages.hri import TRACKED_TOPIC, body_id, hri_messages, tracked_msg
from fasthmr_ros.ros.messages.markers import MarkerStyle, frame_markers
from fasthmr_ros.ros.messages.typestore import (
    CAMERA_INFO,
    DETECTION_2D_ARRAY,
    HUMAN_MESH_ARRAY,
    IDS_LIST,
    MARKER_ARRAY,
    MESH,
    TF_MESSAGE,
    get_typestore,
    get_typestore_from,
)
from fasthmr_ros.ros.node.cameras import CameraInput
from fasthmr_ros.ros.node.pairing import Stamped, StampIndex
from fasthmr_ros.ros.tf_buffer import TfBuffer, express_in

log = logging.getLogger(__name__)

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION: Final = 9

TF_TOPICS = {"/tf": False, "/tf_static": True}  # topic -> static
BODY_FRAME_PREFIX = "body_"  # REP-155's TF frame names

_INFINITE = QosTime(sec=9223372036, nsec=854775807)  # what rosbag2 records for "no limit"


def _qos(depth: int, transient_local: bool) -> Qos:
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        deadline=_INFINITE,
        lifespan=_INFINITE,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_INFINITE,
        avoid_ros_namespace_conventions=False,
    )


LATCHED_QOS = _qos(1, transient_local=True)
DEFAULT_QOS = _qos(10, transient_local=False)


FrameHook = Callable[[np.ndarray | None, FrameResult | None, str | None], None]  # (rgb, result, skip key)


@dataclass
class _BagCamera:
    """One camera of the run: its topics, its CameraInfo index and its own pipeline."""

    topics: CameraInput
    infos: StampIndex | None
    pipeline: Pipeline


class BagProcessor:
    """One run of `fasthmr bag`: construct, then `run()`."""

    def __init__(
        self,
        in_path: str | Path,
        out_path: str | Path,
        pipeline: Pipeline,
        faces: np.ndarray | None,
        cfg: BagConfig,
        template_vertices: np.ndarray | None = None,
        on_frame: FrameHook | None = None,
        progress: bool = True,
    ) -> None:
        self.in_path, self.out_path = Path(in_path), Path(out_path)
        if cfg.storage not in STORAGES:
            raise BagError(f"unknown storage {cfg.storage!r}; choose one of {sorted(STORAGES)}")
        if self.out_path.exists():
            raise BagError(f"output {self.out_path} exists already; rosbag2 writers never overwrite")
        self.pipeline, self.faces, self.cfg = pipeline, faces, cfg
        self.template_vertices = template_vertices
        self.on_frame = on_frame
        self.progress = progress
        self.outputs = absolute_outputs(cfg.outputs)
        self.store = cfg.messages.ros_store
        self.typestore = get_typestore(self.store)
        self.style = MarkerStyle(lifetime_s=cfg.messages.marker_lifetime_s)
        self.summary = BagSummary(target_frame=cfg.target_frame)
        self.tf = TfBuffer(cache_s=None, tolerance_s=cfg.tf_tolerance_s)
        self._connections: dict[str, Connection] = {}

    def _open(self) -> Reader:
        try:
            reader = Reader(self.in_path)
            reader.open()
        except (FileNotFoundError, ReaderError, OSError, KeyError, ValueError) as exc:
            raise BagError(f"cannot open {self.in_path} as a rosbag2: {exc}") from exc
        return reader

    def image_rate(self) -> float:
        """Mean image rate of the input (Hz) from the bag's metadata; 0.0 when unknown."""
        reader = self._open()
        try:
            image_topic = choose_cameras(reader, self.cfg)[0][0].image_topic
            count = sum(c.msgcount for c in reader.connections if c.topic == image_topic)
            span_s = (reader.end_time - reader.start_time) / 1e9
        finally:
            reader.close()
        return (count - 1) / span_s if count > 1 and span_s > 0 else 0.0

    def run(self) -> BagSummary:
        reader = self._open()
        try:
            chosen = choose_cameras(reader, self.cfg)
            det_topic = (
                choose_topics(reader, self.cfg)[2] if len(chosen) == 1 and not self.cfg.cameras else None
            )
            pipelines = [self.pipeline] + [self.pipeline.sibling() for _ in chosen[1:]]
            cameras = {
                topics.image_topic: _BagCamera(topics, self._index(reader, info), pipe)
                for (topics, info), pipe in zip(chosen, pipelines, strict=True)
            }
            detections = self._index(reader, det_topic)
            if self.cfg.target_frame:
                self._read_tf(reader)
            start = time.perf_counter()
            try:
                writer = Writer(self.out_path, version=BAG_VERSION, storage_plugin=STORAGES[self.cfg.storage])
                writer.open()
            except (WriterError, OSError) as exc:
                raise BagError(f"cannot create {self.out_path}: {exc}") from exc
            try:
                self._copy_and_process(reader, writer, cameras, detections)
            except RunInterruptedError as exc:
                # The frames finished so far stay readable; custom_data says the bag is partial.
                exc.frames_done = self.summary.frames_in
                exc.frames_total = sum(c.msgcount for c in reader.connections if c.topic in cameras)
                writer.set_custom_data("fasthmr.complete", "false")
                writer.set_custom_data("fasthmr.frames_done", str(exc.frames_done))
                raise
            finally:
                writer.close()
            self.summary.seconds = time.perf_counter() - start
        finally:
            reader.close()
        return self.summary

    def _index(self, reader: Reader, topic: str | None) -> StampIndex | None:
        """Every message of a side topic (CameraInfo, detections) by header stamp, kept as CDR
        (a few hundred bytes each, so an hour at 30 Hz stays in the tens of MB) and deserialised
        again when an image pairs with it."""
        if topic is None:
            return None
        items = []
        for conn, _, raw in reader.messages([c for c in reader.connections if c.topic == topic]):
            try:
                msg: Any = self.typestore.deserialize_cdr(raw, conn.msgtype)
            except Exception:  # a corrupt record: counted, never fatal
                self.summary.unreadable[topic] += 1
                continue
            items.append(Stamped(builders.time_to_ns(msg.header.stamp), bytes(raw)))
        return StampIndex(items)

    def _read_tf(self, reader: Reader) -> None:
        """Every /tf and /tf_static transform of the bag into the buffer (kept for the whole bag)."""
        conns = [c for c in reader.connections if c.topic in TF_TOPICS and c.msgtype == TF_MESSAGE]
        for conn, _, raw in reader.messages(conns):
            try:
                self.tf.add_message(self.typestore.deserialize_cdr(raw, TF_MESSAGE), TF_TOPICS[conn.topic])
            except Exception:  # a corrupt record or transform: counted, never fatal
                self.summary.unreadable[conn.topic] += 1

    def _output(self, writer: Writer, topic: str, msgtype: str, latched: bool = False) -> Connection:
        """The output connection of a topic, declared on first use (per-body ROS4HRI topics
        appear with their bodies)."""
        if topic not in self._connections:
            qos = LATCHED_QOS if latched else DEFAULT_QOS
            self._connections[topic] = writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=[qos]
            )
        return self._connections[topic]

    def _definition(self, conn: Connection) -> tuple[str, str] | None:
        """(msgdef, RIHS01 hash) to declare a copied topic with, or None when neither the bag nor
        our store knows the type. Bags from Humble carry definitions without hashes."""
        msgdef, digest = conn.msgdef.data, conn.digest
        if msgdef and not digest:
            try:
                scratch = get_typestore_from(msgdef, conn.msgtype)
                digest = scratch.hash_rihs01(conn.msgtype)
            except Exception:  # an unparsable definition: fall back on our store below
                msgdef = ""
        if msgdef and digest:
            return msgdef, digest
        if conn.msgtype in self.typestore.fielddefs:
            return self.typestore.generate_msgdef(conn.msgtype, ros_version=2)[0], self.typestore.hash_rihs01(
                conn.msgtype
            )
        return None

    def _passthrough_connections(self, reader: Reader, writer: Writer) -> dict[int, Connection]:
        """Input connection id -> output connection with the same topic, type, definition and QoS.

        Topics that cannot be declared (unknown type, no definition) or that this run writes
        itself are not copied; the summary names them."""
        ours = set(vars(self.outputs).values())
        out: dict[int, Connection] = {}
        made: dict[tuple[str, str], Connection] = {}
        for conn in reader.connections:
            key = (conn.topic, conn.msgtype)
            if conn.topic in ours:
                self.summary.not_copied[conn.topic] = "replaced by this run's output"
                continue
            if key not in made:
                definition = self._definition(conn)
                if definition is None:
                    self.summary.not_copied[conn.topic] = f"no message definition for {conn.msgtype}"
                    continue
                assert isinstance(conn.ext, ConnectionExtRosbag2)  # what a rosbag2 Reader yields
                made[key] = writer.add_connection(
                    conn.topic,
                    conn.msgtype,
                    msgdef=definition[0],
                    rihs01=definition[1],
                    serialization_format=conn.ext.serialization_format,
                    offered_qos_profiles=conn.ext.offered_qos_profiles,
                )
            out[conn.id] = made[key]
        return out

    def _copy_and_process(
        self,
        reader: Reader,
        writer: Writer,
        cameras: dict[str, _BagCamera],
        detections: StampIndex | None,
    ) -> None:
        topics = self.outputs
        for cam in cameras.values():
            for topic, msgtype in ((topics.humans, HUMAN_MESH_ARRAY), (topics.markers, MARKER_ARRAY)):
                self._output(writer, cam.topics.output(topic), msgtype)
        mesh_conn = self._output(writer, topics.mesh, MESH, latched=True)
        try:
            passthrough = self._passthrough_connections(reader, writer)
        except WriterError as exc:
            raise BagError(f"cannot copy the input topics: {exc}") from exc
        for conn in passthrough.values():  # body frames join the recorded /tf
            if conn.topic == "/tf" and conn.msgtype == TF_MESSAGE:
                self._connections["/tf"] = conn
        if self.faces is not None:
            mesh = builders.mesh_msg(self.faces, self.template_vertices, self.store)
            writer.write(mesh_conn, reader.start_time, self.typestore.serialize_cdr(mesh, MESH))
        n_images = sum(c.msgcount for c in reader.connections if c.topic in cameras)
        bar = tqdm(total=n_images, unit="frame", desc="fasthmr bag", disable=not self.progress)
        with bar:
            for conn, timestamp, raw in reader.messages():
                raise_if_interrupted()  # between records: every frame in the output is whole
                if conn.id in passthrough:
                    writer.write(passthrough[conn.id], timestamp, raw)
                    self.summary.records_copied += 1
                if conn.topic not in cameras:
                    continue
                for topic, msgtype, cdr in self._frame_outputs(conn, raw, cameras[conn.topic], detections):
                    writer.write(self._output(writer, topic, msgtype), timestamp, cdr)
                bar.update(1)
                bar.set_postfix(persons=self.summary.persons, skipped=sum(self.summary.skipped.values()))

    def _frame_outputs(
        self, conn: Connection, raw: bytes, cam: _BagCamera, detections: StampIndex | None
    ) -> Iterator[tuple[str, str, bytes | memoryview]]:
        """Process one image record; yields (output topic, type, CDR) or records one skip."""
        self.summary.frames_in += 1
        try:
            frame, rgb = self._process(conn, raw, cam, detections)
        except FrameSkipError as skip:
            self.summary.skip(skip.reason, skip.detail)
            if self.on_frame:
                self.on_frame(skip.rgb, None, skip.reason)
            return
        self.summary.frames_out += 1
        self.summary.persons += len(frame.persons)
        self.summary.max_persons = max(self.summary.max_persons, len(frame.persons))
        messages, topics = self.cfg.messages, self.outputs
        placed = self._in_target_frame(frame)
        humans = builders.frame_to_msg(placed, messages.publish_vertices, self.store)
        humans_topic, markers_topic = cam.topics.output(topics.humans), cam.topics.output(topics.markers)
        yield humans_topic, HUMAN_MESH_ARRAY, self.typestore.serialize_cdr(humans, HUMAN_MESH_ARRAY)
        markers = frame_markers(placed, self.faces, messages.mesh_markers, self.style, self.store)
        yield markers_topic, MARKER_ARRAY, markers
        if self.cfg.hri:
            yield from self._hri_outputs(placed, frame.frame_id, cam.topics.name)
        if self.on_frame:
            self.on_frame(rgb, frame, None)

    def _in_target_frame(self, frame: FrameResult) -> FrameResult:
        placed, error = express_in(frame, self.tf, self.cfg.target_frame)
        if error is not None:
            s = self.summary
            s.camera_frame[error.reason] += 1
            examples = s.camera_frame_examples.setdefault(error.reason, [])
            if str(error) not in examples and len(examples) < MAX_EXAMPLES:
                examples.append(str(error))
        return placed

    def _hri_outputs(
        self, frame: FrameResult, image_frame_id: str, camera: str
    ) -> Iterator[tuple[str, str, bytes | memoryview]]:
        """ROS4HRI: the tracked ids, per-body roi / skeleton2d / joint_states, body_<id> on /tf.
        With several cameras the tracked list holds the bodies of this camera's frame."""
        ids = [body_id(p.track_id, camera) for p in frame.persons]
        tracked = tracked_msg(frame.stamp_ns, image_frame_id, ids, self.store)
        yield TRACKED_TOPIC, IDS_LIST, self.typestore.serialize_cdr(tracked, IDS_LIST)
        for topic, msgtype, msg in hri_messages(frame, ids, image_frame_id, self.store):
            yield topic, msgtype, self.typestore.serialize_cdr(msg, msgtype)
        if frame.persons:
            tf = builders.body_transforms(frame, [BODY_FRAME_PREFIX + i for i in ids], self.store)
            yield (
                "/tf",
                TF_MESSAGE,
                self.typestore.serialize_cdr(builders.tf_message(tf, self.store), TF_MESSAGE),
            )

    def _process(
        self, conn: Connection, raw: bytes, cam: _BagCamera, detections: StampIndex | None
    ) -> tuple[FrameResult, np.ndarray]:
        try:
            image_msg: Any = self.typestore.deserialize_cdr(raw, conn.msgtype)
            stamp = builders.time_to_ns(image_msg.header.stamp)
            frame_id = image_msg.header.frame_id
        except Exception as exc:  # foreign bytes: any parse failure is this record's problem only
            raise FrameSkipError("corrupt_record", f"{type(exc).__name__}: {exc}") from exc
        slop = round(self.cfg.slop_s * 1e9)
        info_raw = cam.infos.nearest(stamp, slop) if cam.infos is not None else None
        det_raw = detections.nearest(stamp, slop) if detections is not None else None
        inputs = frame_inputs(
            image_msg,
            self.typestore.deserialize_cdr(info_raw, CAMERA_INFO) if info_raw is not None else None,
            self.typestore.deserialize_cdr(det_raw, DETECTION_2D_ARRAY) if det_raw is not None else None,
            stamp,
            use_default_intrinsics=self.cfg.use_default_intrinsics or cam.infos is None,
            detections_expected=detections is not None,
        )
        result = process_cameras([cam.pipeline], [inputs.camera_frame(stamp, frame_id)])[0]
        if isinstance(result, Exception):  # one bad frame never aborts the run; the summary names it
            log.debug("pipeline failed on frame %d", stamp, exc_info=result)
            raise FrameSkipError("pipeline", f"{type(result).__name__}: {result}", inputs.rgb) from result
        assert result is not None  # only a camera without a frame has no result
        return result, inputs.rgb
