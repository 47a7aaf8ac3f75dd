"""`fasthmr bag` on real rosbag2 files (sqlite3 and MCAP) with the real pipeline (embedded default)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from rosbags.interfaces import QosDurability
from rosbags.rosbag2 import Reader, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from test_image_encodings import encode

from fasthmr_ros.cli.bag import run_sample
from fasthmr_ros.cli.main import main
from fasthmr_ros.config import BagConfig, PipelineConfig
from fasthmr_ros.models.default import resolve_body_model, resolve_model
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.images import COLOUR_ENCODINGS
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag import BAG_VERSION, STORAGES, BagError, BagProcessor
from fasthmr_ros.ros.messages import typestore as ours
from fasthmr_ros.ros.messages.builders import (
    camera_info_message,
    detections_message,
    header,
    image_message,
    time_to_ns,
)
from fasthmr_ros.samples.bag import CameraTopics, write_camera_bag, write_sample_bag
from fasthmr_ros.viz.skeletons import edges_for

CAMERA = CameraIntrinsics(150.0, 150.0, 64.0, 48.0, 128, 96)
TOPICS = CameraTopics()
T0 = 1_700_000_000_000_000_000
PERIOD = 33_333_333


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    model = resolve_model(None)
    body = resolve_body_model(None, None)
    return Pipeline(MeshEstimator(model.model, body.body), PipelineConfig(output_vertices=True))


def frames(count: int, seed: int = 0) -> list[tuple[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(T0 + i * PERIOD, rng.integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8))
            for i in range(count)]  # fmt: skip


def bag_typestore(path: Path) -> Any:
    """A typestore built only from the definitions stored in the bag (what `ros2 bag` would use)."""
    store = get_typestore(Stores.EMPTY)
    with Reader(path) as reader:
        for conn in reader.connections:
            store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
    return store


def read_all(path: Path) -> dict[str, list[tuple[int, bytes]]]:
    out: dict[str, list[tuple[int, bytes]]] = {}
    with Reader(path) as reader:
        for conn, timestamp, raw in reader.messages():
            out.setdefault(conn.topic, []).append((timestamp, bytes(raw)))
    return out


def run_bag(pipeline: Pipeline, src: Path, dst: Path, **cfg: Any) -> Any:
    pipeline.reset()
    processor = BagProcessor(src, dst, pipeline, pipeline.faces, BagConfig(**cfg), progress=False)
    return processor.run()


@pytest.mark.parametrize("storage", sorted(STORAGES))
def test_round_trip(pipeline: Pipeline, tmp_path: Path, storage: str) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    count = write_camera_bag(src, frames(4), CAMERA, storage=storage)
    summary = run_bag(pipeline, src, dst, storage=storage)
    assert (summary.frames_in, summary.frames_out, sum(summary.skipped.values())) == (count, count, 0)
    assert summary.persons == count  # the embedded default sees one person in the whole image
    assert list(dst.glob("*.mcap" if storage == "mcap" else "*.db3"))

    inputs, outputs = read_all(src), read_all(dst)
    for topic in (TOPICS.image, TOPICS.camera_info):
        assert outputs[topic] == inputs[topic]  # passed through byte for byte, same log times

    store = bag_typestore(dst)
    humans = [store.deserialize_cdr(raw, ours.HUMAN_MESH_ARRAY) for _, raw in outputs["/fasthmr/humans"]]
    image_stamps = [s for s, _ in frames(4)]
    assert [h.header.stamp.sec * 10**9 + h.header.stamp.nanosec for h in humans] == image_stamps
    for msg in humans:
        assert msg.header.frame_id == TOPICS.frame_id
        assert (msg.fx, msg.cx, msg.intrinsics_source) == (CAMERA.fx, CAMERA.cx, "camera_info")
        (person,) = msg.humans
        joints3d = person.joints3d.reshape(-1, 3).astype(np.float64)
        projected = joints3d[:, :2] / joints3d[:, 2:] * [msg.fx, msg.fy] + [msg.cx, msg.cy]
        np.testing.assert_allclose(person.joints2d.reshape(-1, 2), projected, rtol=1e-4, atol=1e-2)
        assert person.body_pose.shape == (207,) and person.vertices.size == 0
        assert person.joint_set in ("hmr2_44", "smpl_45")

    ((mesh_time, mesh_raw),) = outputs["/fasthmr/mesh"]
    mesh = store.deserialize_cdr(mesh_raw, ours.MESH)
    np.testing.assert_array_equal([t.vertex_indices for t in mesh.triangles], pipeline.faces)
    assert mesh_time <= min(t for t, _ in outputs[TOPICS.image])
    with Reader(dst) as reader:
        (mesh_conn,) = [c for c in reader.connections if c.topic == "/fasthmr/mesh"]
        assert mesh_conn.ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
        humans_conn = next(c for c in reader.connections if c.topic == "/fasthmr/humans")
        assert humans_conn.digest == ours.type_hash(ours.HUMAN_MESH_ARRAY)

    markers = [store.deserialize_cdr(raw, ours.MARKER_ARRAY) for _, raw in outputs["/fasthmr/markers"]]
    assert len(markers) == count
    for array, msg in zip(markers, humans, strict=True):
        skeleton = next(m for m in array.markers if m.type == 5)
        mesh_marker = next(m for m in array.markers if m.type == 11)
        assert len(skeleton.points) == 2 * len(edges_for(msg.humans[0].joint_set))
        assert len(mesh_marker.points) == 3 * len(pipeline.faces)
        assert skeleton.lifetime.sec * 10**9 + skeleton.lifetime.nanosec == 500_000_000
        assert skeleton.header.frame_id == TOPICS.frame_id
    # The same track keeps its colour.
    assert len({(m.markers[0].color.r, m.markers[0].color.g) for m in markers}) == 1


def write_bad_bag(path: Path) -> dict[str, int]:
    """Good frames plus one of each kind of bad record; returns the expected skip counts."""
    store = ours.get_typestore()
    good = frames(3)
    rgb = good[0][1]
    with Writer(path, version=BAG_VERSION) as writer:
        img = writer.add_connection(TOPICS.image, ours.IMAGE, typestore=store)
        info = writer.add_connection(TOPICS.camera_info, ours.CAMERA_INFO, typestore=store)

        def put(stamp: int, image: Any | bytes, camera: CameraIntrinsics | bytes | None) -> None:
            if isinstance(camera, bytes):
                writer.write(info, stamp, camera)
            elif camera is not None:
                writer.write(info, stamp, store.serialize_cdr(camera_info_message(camera, stamp, "cam"),
                                                              ours.CAMERA_INFO))  # fmt: skip
            raw = image if isinstance(image, bytes) else store.serialize_cdr(image, ours.IMAGE)
            writer.write(img, stamp + 1, raw)

        for stamp, frame in good:
            put(stamp, image_message(frame, stamp, "cam"), CAMERA)
        t = T0 + 10 * PERIOD
        truncated = image_message(rgb, t, "cam")
        truncated.data = truncated.data[:-100]
        put(t, truncated, CAMERA)
        t += PERIOD
        unknown = image_message(rgb, t, "cam")
        unknown.encoding = "16UC1"  # a depth image on the colour topic
        put(t, unknown, CAMERA)
        t += PERIOD
        zero_k = camera_info_message(CAMERA, t, "cam")
        zero_k.k = np.zeros(9)  # an uncalibrated camera
        put(t, image_message(rgb, t, "cam"), bytes(store.serialize_cdr(zero_k, ours.CAMERA_INFO)))
        t += PERIOD
        corrupt = bytes(store.serialize_cdr(image_message(rgb, t, "cam"), ours.IMAGE))[
            :40
        ]  # cut inside the header
        put(t, corrupt, CAMERA)
        t += 10 * PERIOD
        put(t, image_message(rgb, t, "cam"), None)  # no CameraInfo anywhere near
        t += 10 * PERIOD
        put(t, image_message(rgb, t, "cam"), b"\x00\x01\x00\x00\xff")  # its CameraInfo record is corrupt
    return {"image_decode": 2, "camera_info": 1, "corrupt_record": 1, "no_camera_info": 2}


def test_bad_records_are_skipped_and_counted(pipeline: Pipeline, tmp_path: Path) -> None:
    expected = write_bad_bag(tmp_path / "bad")
    summary = run_bag(pipeline, tmp_path / "bad", tmp_path / "out")
    assert dict(summary.skipped) == expected
    assert summary.frames_in == 3 + sum(expected.values())
    assert summary.frames_out == 3
    assert summary.unreadable == {TOPICS.camera_info: 1}
    decode = " ".join(summary.skip_examples["image_decode"])
    assert "'16UC1' is a depth image" in decode and "36764 bytes" in decode  # both causes named
    assert "all zeros" in summary.skip_examples["camera_info"][0]
    text = "\n".join(summary.lines())
    assert "skipped: 6" in text and "no CameraInfo within the slop" in text
    outputs = read_all(tmp_path / "out")
    assert len(outputs["/fasthmr/humans"]) == 3
    assert len(outputs[TOPICS.image]) == summary.frames_in  # every record copied, the corrupt one too


def test_every_camera_encoding_in_one_bag(pipeline: Pipeline, tmp_path: Path) -> None:
    """One frame per colour encoding plus two depth frames: each colour frame is answered with its
    stamp, each depth frame is skipped with the reason, and every record is accounted for."""
    store = ours.get_typestore()
    rgb = frames(1)[0][1]
    colour_stamps, depth = [], ("16UC1", "32FC1")
    with Writer(tmp_path / "in", version=BAG_VERSION) as writer:
        img = writer.add_connection(TOPICS.image, ours.IMAGE, typestore=store)
        info = writer.add_connection(TOPICS.camera_info, ours.CAMERA_INFO, typestore=store)
        for i, encoding in enumerate((*COLOUR_ENCODINGS, *depth)):
            stamp = T0 + i * PERIOD
            msg = image_message(rgb, stamp, "cam")
            if encoding in depth:
                bytes_per_pixel = 2 if encoding == "16UC1" else 4
                rows, big = np.zeros((CAMERA.height, CAMERA.width * bytes_per_pixel), np.uint8), False
            else:
                rows, big = encode(encoding, rgb)
                colour_stamps.append(stamp)
            msg.encoding, msg.step, msg.is_bigendian = encoding, rows.shape[1], big
            msg.data = rows.reshape(-1)
            camera = camera_info_message(CAMERA, stamp, "cam")
            writer.write(info, stamp, store.serialize_cdr(camera, ours.CAMERA_INFO))
            writer.write(img, stamp + 1, store.serialize_cdr(msg, ours.IMAGE))
    summary = run_bag(pipeline, tmp_path / "in", tmp_path / "out")
    assert summary.frames_in == len(COLOUR_ENCODINGS) + len(depth)
    assert summary.frames_out == len(COLOUR_ENCODINGS)
    assert dict(summary.skipped) == {"image_decode": len(depth)}
    assert all("this node wants a colour" in e for e in summary.skip_examples["image_decode"])
    records = read_all(tmp_path / "out")["/fasthmr/humans"]
    humans = [store.deserialize_cdr(raw, ours.HUMAN_MESH_ARRAY) for _, raw in records]
    assert [time_to_ns(m.header.stamp) for m in humans] == colour_stamps


def test_default_intrinsics_rescue_zero_k(pipeline: Pipeline, tmp_path: Path) -> None:
    write_bad_bag(tmp_path / "bad")
    summary = run_bag(pipeline, tmp_path / "bad", tmp_path / "out", use_default_intrinsics=True)
    assert "camera_info" not in summary.skipped and "no_camera_info" not in summary.skipped
    assert summary.frames_out == 3 + 1 + 2


def test_upstream_detections_drive_the_boxes(pipeline: Pipeline, tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_camera_bag(src, frames(2), CAMERA, storage="sqlite3")
    store = ours.get_typestore()
    boxes = [[4.0, 8.0, 40.0, 90.0], [70.0, 10.0, 120.0, 94.0], [50.0, 50.0, 60.0, 60.0]]
    scores, classes = [0.9, 0.8, 0.99], ["person", "0", "car"]  # the car is not a person
    # A second bag with the same records plus detections (rosbag2 files cannot be appended to).
    full = tmp_path / "with_dets"
    with Reader(src) as reader, Writer(full, version=BAG_VERSION) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in reader.connections}
        for conn, timestamp, raw in reader.messages():
            writer.write(conns[conn.id], timestamp, raw)
        det = writer.add_connection("/detections", ours.DETECTION_2D_ARRAY, typestore=store)
        for stamp, _ in frames(2):
            writer.write(
                det,
                stamp + 5,
                store.serialize_cdr(
                    detections_message(boxes, stamp, "cam", scores, classes), ours.DETECTION_2D_ARRAY
                ),
            )
    summary = run_bag(pipeline, full, tmp_path / "out")  # the only Detection2DArray topic is used
    assert summary.frames_out == 2 and summary.persons == 4
    humans = [
        store.deserialize_cdr(raw, ours.HUMAN_MESH_ARRAY)
        for _, raw in read_all(tmp_path / "out")["/fasthmr/humans"]
    ]
    for msg in humans:
        centres = sorted(((h.bbox[0] + h.bbox[2]) / 2, (h.bbox[1] + h.bbox[3]) / 2) for h in msg.humans)
        np.testing.assert_allclose(centres, [(22.0, 49.0), (95.0, 52.0)], atol=0.5)
        assert sorted(round(float(h.score), 2) for h in msg.humans) == [0.8, 0.9]
    ids = [sorted(h.track_id for h in m.humans) for m in humans]
    assert ids[0] == ids[1]  # the two tracks keep their ids


def test_ambiguous_or_missing_topics_are_clear_errors(pipeline: Pipeline, tmp_path: Path) -> None:
    src = tmp_path / "two_cams"
    store = ours.get_typestore()
    with Writer(src, version=BAG_VERSION) as writer:
        for name in ("/left/image_raw", "/right/image_raw"):
            conn = writer.add_connection(name, ours.IMAGE, typestore=store)
            writer.write(conn, T0, store.serialize_cdr(image_message(frames(1)[0][1], T0, "cam"), ours.IMAGE))
    with pytest.raises(BagError, match="2 image topics"):
        run_bag(pipeline, src, tmp_path / "o1")
    with pytest.raises(BagError, match="CameraInfo"):
        run_bag(pipeline, src, tmp_path / "o2", image_topic="/left/image_raw")
    with pytest.raises(BagError, match="cannot open"):
        run_bag(pipeline, tmp_path / "missing", tmp_path / "o3")
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="exists already"):
        run_bag(pipeline, src, tmp_path / "exists")


def test_cli_writes_bag_preview_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    write_camera_bag(src, frames(3), CAMERA, storage="mcap", encoding="jpeg")
    code = main(["bag", str(src), str(tmp_path / "out"), "--storage", "sqlite3", "--no-progress",
                 "--preview", str(tmp_path / "preview.mp4")])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "frames in: 3, out: 3, skipped: 0" in printed
    assert list((tmp_path / "out").glob("*.db3"))
    video = cv2.VideoCapture(str(tmp_path / "preview.mp4"))
    count = 0
    while True:
        ok, image = video.read()
        if not ok:
            break
        count += 1
        assert image.shape == (CAMERA.height, CAMERA.width, 3)
    assert count == 3
    assert main(["bag", str(tmp_path / "nope"), str(tmp_path / "out2"), "--no-progress"]) == 2


def test_sample_bag_demo(pipeline: Pipeline, tmp_path: Path) -> None:
    """The embedded-default demo input: two walking stand-in people with their true boxes."""
    src = write_sample_bag(tmp_path / "sample", num_frames=5, width=320, height=180, progress=False)
    with Reader(src) as reader:
        assert {c.topic: c.msgcount for c in reader.connections} == {
            "/camera/image_raw": 5, "/camera/camera_info": 5, "/detections": 5,
        }  # fmt: skip
    summary = run_bag(pipeline, src, tmp_path / "out", storage="sqlite3")
    assert (summary.frames_in, summary.frames_out, summary.persons, summary.max_persons) == (5, 5, 10, 2)
    store = ours.get_typestore()
    humans = [
        store.deserialize_cdr(raw, ours.HUMAN_MESH_ARRAY)
        for _, raw in read_all(tmp_path / "out")["/fasthmr/humans"]
    ]
    ids = {h.track_id for msg in humans for h in msg.humans}
    assert len(ids) == 2  # the same two tracks throughout
    ignored = run_bag(pipeline, src, tmp_path / "out2", detections_topic="none")
    assert ignored.max_persons == 1  # without upstream boxes the embedded default uses the whole image


def test_passthrough_of_custom_types_and_colliding_topics(pipeline: Pipeline, tmp_path: Path) -> None:
    store = get_typestore(Stores.ROS2_JAZZY)
    status_def = "std_msgs/Header header\nstring state\nfloat64[] values\n"
    store.register(get_types_from_msg(status_def, "my_robot/msg/Status"))
    store.register(get_types_from_msg((ours.msg_dir() / "HumanMesh.msg").read_text(), ours.HUMAN_MESH))
    store.register(
        get_types_from_msg((ours.msg_dir() / "HumanMeshArray.msg").read_text(), ours.HUMAN_MESH_ARRAY)
    )
    src = tmp_path / "in"
    stamp, rgb = frames(1)[0]
    status = store.types["my_robot/msg/Status"](
        header=header(stamp, "base"), state="ok", values=np.arange(3.0)
    )
    old = store.types[ours.HUMAN_MESH_ARRAY](header=header(stamp, "cam"), width=1, height=1, fx=1.0, fy=1.0,
                                             cx=0.0, cy=0.0, intrinsics_source="", processing_time_ms=0.0,
                                             humans=[])  # fmt: skip
    with Writer(src, version=BAG_VERSION, storage_plugin=STORAGES["mcap"]) as writer:
        records = [
            (TOPICS.camera_info, ours.CAMERA_INFO, camera_info_message(CAMERA, stamp, TOPICS.frame_id)),
            (TOPICS.image, ours.IMAGE, image_message(rgb, stamp, TOPICS.frame_id)),
            ("/status", "my_robot/msg/Status", status),
            ("/fasthmr/humans", ours.HUMAN_MESH_ARRAY, old),  # an earlier run's output
        ]
        for topic, msgtype, msg in records:
            conn = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conn, stamp + 1, store.serialize_cdr(msg, msgtype))
    summary = run_bag(pipeline, src, tmp_path / "out")
    assert summary.frames_out == 1
    assert summary.not_copied == {"/fasthmr/humans": "replaced by this run's output"}
    outputs = read_all(tmp_path / "out")
    assert outputs["/status"] == read_all(src)["/status"]
    assert len(outputs["/fasthmr/humans"]) == 1
    copied = bag_typestore(tmp_path / "out").deserialize_cdr(outputs["/status"][0][1], "my_robot/msg/Status")
    assert copied.state == "ok"

    # Humble-era metadata: definitions but no type hashes. The hash is computed from the definition.
    meta = src / "metadata.yaml"
    info = yaml.safe_load(meta.read_text())
    for topic in info["rosbag2_bagfile_information"]["topics_with_message_count"]:
        del topic["topic_metadata"]["type_description_hash"]
    meta.write_text(yaml.safe_dump(info))
    summary = run_bag(pipeline, src, tmp_path / "out_humble")
    assert "/status" not in summary.not_copied
    with Reader(tmp_path / "out_humble") as reader:
        status_conn = next(c for c in reader.connections if c.topic == "/status")
    assert status_conn.digest == store.hash_rihs01("my_robot/msg/Status")


def test_topics_without_any_definition(pipeline: Pipeline, tmp_path: Path) -> None:
    """An sqlite3 bag stripped of definitions and hashes: standard types are declared from our
    store; an unknown custom type cannot be, and the summary names it."""
    src = tmp_path / "in"
    write_camera_bag(src, frames(2), CAMERA, storage="sqlite3")
    (db,) = src.glob("*.db3")
    with sqlite3.connect(db) as con:
        topic_id = con.execute(
            "INSERT INTO topics (name, type, serialization_format, offered_qos_profiles, "
            "type_description_hash) VALUES ('/status', 'my_robot/msg/Status', 'cdr', '', '')"
        ).lastrowid
        con.execute(
            "INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)", (topic_id, T0, b"\0\1\0\0")
        )
        con.execute("DELETE FROM message_definitions")
        con.execute("UPDATE topics SET type_description_hash = ''")
    meta = src / "metadata.yaml"
    info = yaml.safe_load(meta.read_text())
    topics = info["rosbag2_bagfile_information"]["topics_with_message_count"]
    for topic in topics:
        topic["topic_metadata"]["type_description_hash"] = ""
    status = {**topics[0]["topic_metadata"], "name": "/status", "type": "my_robot/msg/Status"}
    topics.append({"message_count": 1, "topic_metadata": status})
    meta.write_text(yaml.safe_dump(info))
    with Reader(src) as reader:
        assert {c.msgdef.data for c in reader.connections} == {""}
    summary = run_bag(pipeline, src, tmp_path / "out")
    assert summary.frames_out == 2
    assert summary.not_copied == {"/status": "no message definition for my_robot/msg/Status"}
    outputs = read_all(tmp_path / "out")
    assert outputs[TOPICS.image] == read_all(src)[TOPICS.image]
    assert "/status" not in outputs


def test_sample_demo_runs_end_to_end_and_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sample(tmp_path, num_frames=3) == 0
    assert run_sample(tmp_path, num_frames=3) == 0  # reuses the sample, replaces its own output
    printed = capsys.readouterr().out
    assert printed.count("frames in: 3, out: 3, skipped: 0") == 2 and "EMBEDDED DEFAULT" in printed
    assert len(read_all(tmp_path / "humans_bag")["/fasthmr/humans"]) == 3
    assert cv2.VideoCapture(str(tmp_path / "preview.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 3
