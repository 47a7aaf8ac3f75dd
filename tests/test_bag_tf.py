"""`fasthmr bag` with the bag's own /tf and /tf_static (target_frame) and ROS4HRI outputs, real rosbag2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from scipy.spatial.transform import Rotation

from fasthmr_ros.cli.main import main
from fasthmr_ros.config import BagConfig, PipelineConfig
from fasthmr_ros.models.default import resolve_body_model, resolve_model
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag import BAG_VERSION, BagProcessor
from fasthmr_ros.ros.bag_input import camera_info_message, image_message
from fasthmr_ros.ros.convert import time_to_ns
from fasthmr_ros.ros.typestore import CAMERA_INFO, HUMAN_MESH_ARRAY, IMAGE, TF_MESSAGE
from fasthmr_ros.ros.typestore import get_typestore as our_typestore
from tests.test_tf_buffer import stamped as transform

CAMERA = CameraIntrinsics(150.0, 150.0, 64.0, 48.0, 128, 96)
OPTICAL = "camera_optical_frame"
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000
FRAMES = 6
TS = our_typestore()
# camera_link -> optical: the usual optical rotation (z forward becomes x forward).
OPTICAL_QUAT = Rotation.from_euler("ZYX", [-90, 0, -90], degrees=True).as_quat()


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    model, body = resolve_model(None), resolve_body_model(None, None)
    return Pipeline(MeshEstimator(model.model, body.body), PipelineConfig(output_vertices=True))


def write_robot_bag(path: Path, map_until: int) -> None:
    """Camera frames plus a robot: static base_link -> camera_link -> optical, and a /tf
    map -> base_link (driving along x at 1 m/s) recorded only for the first `map_until` frames."""
    rng = np.random.default_rng(0)
    tf_msg = TS.types[TF_MESSAGE]
    with Writer(path, version=BAG_VERSION) as writer:
        image = writer.add_connection("/camera/image_raw", IMAGE, typestore=TS)
        info = writer.add_connection("/camera/camera_info", CAMERA_INFO, typestore=TS)
        tf = writer.add_connection("/tf", TF_MESSAGE, typestore=TS)
        static = writer.add_connection("/tf_static", TF_MESSAGE, typestore=TS)
        statics = [
            transform("base_link", "camera_link", T0, (0.3, 0.0, 1.2), np.array([0, 0, 0, 1.0])),
            transform("camera_link", OPTICAL, T0, (0, 0, 0), OPTICAL_QUAT),
        ]
        writer.write(static, T0, TS.serialize_cdr(tf_msg(transforms=statics), TF_MESSAGE))
        for i in range(FRAMES):
            stamp = T0 + i * PERIOD
            if i < map_until:
                drive = transform(
                    "map", "base_link", stamp, (i * PERIOD / 1e9, 0, 0), np.array([0, 0, 0, 1.0])
                )
                writer.write(tf, stamp, TS.serialize_cdr(tf_msg(transforms=[drive]), TF_MESSAGE))
            rgb = rng.integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
            writer.write(
                info, stamp + 1, TS.serialize_cdr(camera_info_message(CAMERA, stamp, OPTICAL), CAMERA_INFO)
            )
            writer.write(image, stamp + 2, TS.serialize_cdr(image_message(rgb, stamp, OPTICAL), IMAGE))


def run(pipeline: Pipeline, src: Path, dst: Path, **cfg: Any) -> Any:
    pipeline.reset()
    return BagProcessor(src, dst, pipeline, pipeline.faces, BagConfig(**cfg), progress=False).run()


def decoded(path: Path) -> dict[str, list[Any]]:
    """Every record, decoded with the definitions stored in the bag itself."""
    store = get_typestore(Stores.EMPTY)
    out: dict[str, list[Any]] = {}
    with Reader(path) as reader:
        for conn in reader.connections:
            store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        for conn, _, raw in reader.messages():
            out.setdefault(conn.topic, []).append(store.deserialize_cdr(raw, conn.msgtype))
    return out


def pelvis(human: Any) -> np.ndarray:
    return np.array([human.pelvis.x, human.pelvis.y, human.pelvis.z])


def test_target_frame_from_the_bags_tf_and_counted_fallback(pipeline: Pipeline, tmp_path: Path) -> None:
    src = tmp_path / "robot"
    write_robot_bag(src, map_until=3)
    run(pipeline, src, tmp_path / "camera")
    summary = run(pipeline, src, tmp_path / "map", target_frame="map", tf_tolerance_s=0.05)
    camera = decoded(tmp_path / "camera")["/fasthmr/humans"]
    in_map = decoded(tmp_path / "map")["/fasthmr/humans"]
    assert len(camera) == len(in_map) == FRAMES
    # map -> base_link exists for frames 0..2 only; frames 3..5 stay in the camera frame, counted.
    assert [m.header.frame_id for m in in_map] == ["map"] * 3 + [OPTICAL] * 3
    assert summary.camera_frame == {"too_old": 3}
    assert any("map -> base_link" in e for e in summary.camera_frame_examples["too_old"])
    assert any("left in the camera frame: 3" in line for line in summary.lines())
    for i, (cam, moved) in enumerate(zip(camera, in_map, strict=True)):
        assert time_to_ns(cam.header.stamp) == time_to_ns(moved.header.stamp)
        p = pelvis(cam.humans[0])
        if i < 3:
            # optical (x right, y down, z forward) -> base_link (x forward, y left, z up), then driven i/10 m.
            expected = np.array([p[2] + 0.3 + i * 0.1, -p[0], -p[1] + 1.2])
            np.testing.assert_allclose(pelvis(moved.humans[0]), expected, atol=1e-4)
            joints = np.asarray(moved.humans[0].joints3d).reshape(-1, 3)
            cam_joints = np.asarray(cam.humans[0].joints3d).reshape(-1, 3)
            np.testing.assert_allclose(joints[:, 2], -cam_joints[:, 1] + 1.2, atol=1e-4)
        else:
            np.testing.assert_allclose(pelvis(moved.humans[0]), p, atol=1e-6)


def test_unknown_target_frame_keeps_every_frame_in_the_camera_frame(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    src = tmp_path / "robot"
    write_robot_bag(src, map_until=FRAMES)
    summary = run(pipeline, src, tmp_path / "out", target_frame="odom")
    assert summary.frames_out == FRAMES and summary.camera_frame == {"unknown_frame": FRAMES}
    frames = {m.header.frame_id for m in decoded(tmp_path / "out")["/fasthmr/humans"]}
    assert frames == {OPTICAL}


def test_hri_outputs_decode_with_the_bags_definitions(pipeline: Pipeline, tmp_path: Path) -> None:
    src = tmp_path / "robot"
    write_robot_bag(src, map_until=FRAMES)
    run(pipeline, src, tmp_path / "out", target_frame="base_link", hri=True)
    out = decoded(tmp_path / "out")
    tracked = out["/humans/bodies/tracked"]
    assert len(tracked) == FRAMES and all(list(m.ids) == ["b1"] for m in tracked)
    assert tracked[0].header.frame_id == OPTICAL
    rois = out["/humans/bodies/b1/roi"]
    assert len(rois) == FRAMES and all(
        0.0 <= r.xmin < r.xmax <= 1.0 and 0.0 <= r.ymin < r.ymax <= 1.0 for r in rois
    )
    assert all(len(s.skeleton) == 18 for s in out["/humans/bodies/b1/skeleton2d"])
    assert all(len(j.position) == 69 for j in out["/humans/bodies/b1/joint_states"])
    # The body frames join the recorded /tf, under the target frame, at the pelvis of the HumanMesh.
    bodies = [t for m in out["/tf"] for t in m.transforms if t.child_frame_id == "body_b1"]
    assert len(bodies) == FRAMES and {t.header.frame_id for t in bodies} == {"base_link"}
    humans = out["/fasthmr/humans"]
    for body, human in zip(bodies, humans, strict=True):
        xyz = body.transform.translation
        np.testing.assert_allclose([xyz.x, xyz.y, xyz.z], pelvis(human.humans[0]), atol=1e-5)
    assert len([t for m in out["/tf"] for t in m.transforms if t.child_frame_id == "base_link"]) == FRAMES
    with Reader(tmp_path / "out") as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
    assert types["/humans/bodies/b1/roi"] == "hri_msgs/msg/NormalizedRegionOfInterest2D"
    assert types["/fasthmr/humans"] == HUMAN_MESH_ARRAY


def test_cli_flags_reach_the_bag_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "robot"
    write_robot_bag(src, map_until=2)
    argv = ["bag", str(src), str(tmp_path / "out"), "--no-progress", "--no-mesh-markers"]
    assert main([*argv, "--target-frame", "map", "--tf-tolerance", "0.0", "--hri"]) == 0
    printed = capsys.readouterr().out
    assert "frames in map: 2; left in the camera frame: 4" in printed
    assert "camera frame 4 x too_old" in printed
    assert len(decoded(tmp_path / "out")["/humans/bodies/tracked"]) == FRAMES


def write_two_camera_bag(path: Path) -> None:
    """/front and /left cameras (frames front_optical, left_optical) at the same stamps."""
    rng = np.random.default_rng(1)
    with Writer(path, version=BAG_VERSION) as writer:
        for name in ("front", "left"):
            image = writer.add_connection(f"/{name}/image_raw", IMAGE, typestore=TS)
            info = writer.add_connection(f"/{name}/camera_info", CAMERA_INFO, typestore=TS)
            for i in range(3):
                stamp = T0 + i * PERIOD
                rgb = rng.integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
                cam_info = camera_info_message(CAMERA, stamp, f"{name}_optical")
                writer.write(info, stamp + 1, TS.serialize_cdr(cam_info, CAMERA_INFO))
                writer.write(
                    image, stamp + 2, TS.serialize_cdr(image_message(rgb, stamp, f"{name}_optical"), IMAGE)
                )


def test_several_cameras_each_with_its_own_outputs_and_tracks(pipeline: Pipeline, tmp_path: Path) -> None:
    write_two_camera_bag(tmp_path / "two")
    summary = run(pipeline, tmp_path / "two", tmp_path / "out", cameras="/front,/left", hri=True)
    assert (summary.frames_in, summary.frames_out) == (6, 6)
    out = decoded(tmp_path / "out")
    for name in ("front", "left"):
        humans = out[f"/fasthmr/humans/{name}"]
        assert len(humans) == 3 and {m.header.frame_id for m in humans} == {f"{name}_optical"}
        assert [h.humans[0].track_id for h in humans] == [1, 1, 1]  # each camera tracks its own person
        assert len(out[f"/humans/bodies/{name}_1/roi"]) == 3
    assert {t.child_frame_id for m in out["/tf"] for t in m.transforms} == {"body_front_1", "body_left_1"}
    assert "/fasthmr/humans" not in out
