"""Our .msg definitions, the typestore, and the converters between pipeline results and messages."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.joints import JOINT_NAMES, PELVIS_INDEX, SMPL_TO_OPENPOSE
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages import typestore as ours
from fasthmr_ros.ros.messages.builders import (
    camera_from_info,
    camera_info_message,
    detections_from_msg,
    detections_message,
    frame_to_msg,
    mesh_msg,
    person_to_msg,
    stamp_ns_to_time,
    time_to_ns,
)
from fasthmr_ros.ros.messages.markers import LINE_LIST, TRIANGLE_LIST, MarkerStyle, frame_markers
from fasthmr_ros.viz.skeletons import edges_for

TS = ours.get_typestore()
RNG = np.random.default_rng(0)


def person(track_id: int = 4, joint_set: str = "hmr2_44", vertices: bool = False) -> PersonResult:
    joints = 44 if joint_set == "hmr2_44" else 45
    return PersonResult(
        track_id=track_id,
        score=0.75,
        bbox=np.array([10.0, 20.0, 110.0, 260.0]),
        global_orient=Rotation.from_rotvec([0.3, -1.1, 0.2]).as_matrix(),
        body_pose=Rotation.from_rotvec(RNG.normal(0, 0.4, size=(23, 3))).as_matrix(),
        betas=RNG.normal(size=10),
        transl=np.array([0.2, -0.1, 5.0]),
        joints3d=RNG.normal(size=(joints, 3)) + np.array([0.0, 0.0, 5.0]),
        joints2d=RNG.uniform(0, 640, size=(joints, 2)),
        joint_set=joint_set,
        pred_cam=np.array([0.8, 0.01, -0.02]),
        vertices=RNG.normal(size=(6890, 3)) if vertices else None,
        decoder="diffusion",
    )


def frame(*persons: PersonResult) -> FrameResult:
    camera = CameraIntrinsics(500.0, 510.0, 320.0, 240.0, 640, 480, source="hmr2_default")
    return FrameResult(
        12 * 10**9 + 345, "cam_optical", 640, 480, camera, list(persons), {"model": 3.0, "smpl": 1.5}
    )


def msg_fields(text: str) -> list[tuple[str, str, bool]]:
    """(type, name, documented) per field of a .msg text; a comment documents the fields that
    follow it up to the next blank line."""
    out, documented = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            documented = False
        elif stripped.startswith("#"):
            documented = True
        elif match := re.match(r"^([\w/]+(?:\[\d*\])?)\s+(\w+)\s*$", stripped):
            out.append((match.group(1), match.group(2), documented))
    return out


@pytest.mark.parametrize("name", ["HumanMesh", "HumanMeshArray"])
def test_every_field_is_documented_and_registered(name: str) -> None:
    text = (ours.msg_dir() / f"{name}.msg").read_text()
    fields = msg_fields(text)
    assert fields, "no fields parsed"
    undocumented = [f[1] for f in fields if not f[2]]
    assert undocumented == []
    registered = [field_name for field_name, _ in TS.fielddefs[f"fasthmr_ros/msg/{name}"][1]]
    assert registered == [f[1] for f in fields]


def test_type_hashes_are_ros2_form_and_follow_the_definition() -> None:
    digest = ours.type_hash(ours.HUMAN_MESH_ARRAY)
    assert re.fullmatch(r"RIHS01_[0-9a-f]{64}", digest)
    assert ours.type_hash(ours.HUMAN_MESH_ARRAY, "humble") == digest  # same definitions underneath
    assert ours.type_hash(ours.HUMAN_MESH) != digest
    with pytest.raises(Exception, match="unknown ROS 2 message store"):
        ours.get_typestore("rolling-2040")


def test_joint_names_match_the_body_model_order() -> None:
    assert len(JOINT_NAMES["hmr2_44"]) == 44 and len(JOINT_NAMES["smpl_45"]) == 45
    # hmr2_44 joint 8 is taken from smplx joint 0 (the SMPL pelvis): the message's `pelvis`.
    assert SMPL_TO_OPENPOSE[PELVIS_INDEX["hmr2_44"]] == PELVIS_INDEX["smpl_45"] == 0
    assert JOINT_NAMES["smpl_45"][SMPL_TO_OPENPOSE[0]] == "nose" == JOINT_NAMES["hmr2_44"][0]


@pytest.mark.parametrize("joint_set", ["hmr2_44", "smpl_45"])
def test_person_layout_is_as_documented(joint_set: str) -> None:
    p = person(joint_set=joint_set)
    raw = TS.serialize_cdr(frame_to_msg(frame(p)), ours.HUMAN_MESH_ARRAY)
    msg = TS.deserialize_cdr(raw, ours.HUMAN_MESH_ARRAY)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 345, "cam_optical")
    assert (msg.fy, msg.intrinsics_source, msg.processing_time_ms) == (510.0, "hmr2_default", 4.5)
    (h,) = msg.humans
    np.testing.assert_allclose(h.global_orient.reshape(3, 3), p.global_orient, atol=1e-6)  # row-major
    np.testing.assert_allclose(h.body_pose.reshape(23, 3, 3), p.body_pose, atol=1e-6)
    np.testing.assert_allclose(h.joints3d.reshape(-1, 3), p.joints3d, rtol=1e-6)
    np.testing.assert_allclose(h.joints2d.reshape(-1, 2), p.joints2d, rtol=1e-6)
    pelvis = p.joints3d[PELVIS_INDEX[joint_set]]
    np.testing.assert_allclose([h.pelvis.x, h.pelvis.y, h.pelvis.z], pelvis, rtol=1e-6)
    assert [h.transl.x, h.transl.y, h.transl.z] == list(p.transl)
    assert (h.track_id, h.joint_set, h.decoder, h.vertices.size) == (4, joint_set, "diffusion", 0)
    assert h.score == pytest.approx(0.75) and list(h.bbox) == [10, 20, 110, 260]


def test_vertices_only_on_request_as_float32() -> None:
    p = person(vertices=True)
    without = TS.serialize_cdr(person_to_msg(p), ours.HUMAN_MESH)
    with_vertices = TS.serialize_cdr(person_to_msg(p, with_vertices=True), ours.HUMAN_MESH)
    assert len(with_vertices) - len(without) == 6890 * 3 * 4
    back = TS.deserialize_cdr(with_vertices, ours.HUMAN_MESH)
    np.testing.assert_allclose(back.vertices.reshape(-1, 3), p.vertices, rtol=1e-6)
    assert len(without) < 2000  # the per-person size the .msg comment states (about 1.9 kB)


def test_mesh_message_carries_the_triangles() -> None:
    faces = np.array([[0, 1, 2], [3, 2, 1]])
    msg = TS.deserialize_cdr(TS.serialize_cdr(mesh_msg(faces, np.eye(4, 3)), ours.MESH), ours.MESH)
    assert [list(t.vertex_indices) for t in msg.triangles] == faces.tolist()
    assert [(v.x, v.y, v.z) for v in msg.vertices][1] == (0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="faces"):
        mesh_msg(np.array([0, 1, 2]))


def test_detections_become_person_boxes() -> None:
    boxes = [[10, 20, 50, 100], [200, 50, 260, 190], [5, 5, 9, 9]]
    msg = detections_message(boxes, 0, "cam", scores=[0.9, 0.6, 0.99], class_ids=["person", "0", "dog"])
    dets = detections_from_msg(msg)
    np.testing.assert_allclose([d.bbox for d in dets], boxes[:2])
    assert [d.score for d in dets] == [0.9, 0.6] and {d.source for d in dets} == {"upstream"}
    bare = detections_message(boxes[:1], 0, "cam")
    bare.detections[0].results = []  # a box without hypotheses counts as a person
    assert detections_from_msg(bare)[0].score == 1.0
    flat = detections_message([[10, 10, 10, 40]], 0, "cam")
    with pytest.raises(InputError, match="no area"):
        detections_from_msg(flat)


def test_camera_info_conversion() -> None:
    camera = CameraIntrinsics(600.0, 610.0, 320.0, 240.0, 640, 480)
    info = camera_info_message(camera, 0, "cam")
    assert camera_from_info(info, 640, 480) == camera
    half = camera_from_info(info, 320, 240)  # a uniformly downscaled stream
    assert (half.fx, half.fy, half.cx, half.cy) == (300.0, 305.0, 160.0, 120.0)
    with pytest.raises(InputError, match="not a uniform resize"):
        camera_from_info(info, 640, 360)
    info.width = info.height = 0  # no size in the CameraInfo: it describes the image as is
    assert camera_from_info(info, 640, 480).fx == 600.0
    info.k = np.zeros(9)
    with pytest.raises(InputError, match="all zeros"):
        camera_from_info(info, 640, 480)


def markers_of(msg: Any, kind: int) -> list[Any]:
    return [m for m in msg.markers if m.type == kind]


@pytest.mark.parametrize("store", ["humble", "jazzy"])
def test_markers_skeleton_mesh_colours_and_lifetimes(store: str) -> None:
    """The hand-written CDR decodes with rosbags into exactly the intended markers."""
    typestore = ours.get_typestore(store)
    faces = RNG.integers(0, 6890, size=(100, 3))
    first, second = person(track_id=1, vertices=True), person(track_id=2, joint_set="smpl_45", vertices=True)
    people = frame(first, second)
    people.frame_id = "odd_len"  # string lengths that leave the next fields unaligned
    style = MarkerStyle(lifetime_s=1.25)
    raw = frame_markers(people, faces, True, style, store)
    msg = typestore.deserialize_cdr(raw, ours.MARKER_ARRAY)
    assert bytes(typestore.serialize_cdr(msg, ours.MARKER_ARRAY)) == raw  # byte-identical to rosbags' own
    skeletons, meshes = markers_of(msg, LINE_LIST), markers_of(msg, TRIANGLE_LIST)
    for marker, p in zip(skeletons, (first, second), strict=True):
        bones = np.array(edges_for(p.joint_set)).reshape(-1)
        points = np.array([(q.x, q.y, q.z) for q in marker.points])
        np.testing.assert_allclose(points, p.joints3d[bones])
    for marker, p in zip(meshes, (first, second), strict=True):
        points = np.array([(q.x, q.y, q.z) for q in marker.points])
        np.testing.assert_allclose(points, p.vertices[faces.reshape(-1)])
    for m in msg.markers:
        assert (m.lifetime.sec, m.lifetime.nanosec) == (1, 250_000_000)
        assert (m.header.frame_id, m.header.stamp.sec, m.header.stamp.nanosec) == ("odd_len", 12, 345)
        assert m.pose.orientation.w == 1.0 and m.action == 0
    colours = {m.id: (m.color.r, m.color.g, m.color.b) for m in msg.markers}
    assert len(set(colours.values())) == 2  # one colour per track, mesh and skeleton alike
    alone = typestore.deserialize_cdr(
        frame_markers(frame(person(track_id=2)), store=store), ours.MARKER_ARRAY
    )
    assert (alone.markers[0].color.r, alone.markers[0].color.g, alone.markers[0].color.b) == colours[2]
    no_mesh = typestore.deserialize_cdr(frame_markers(people, faces, False, style, store), ours.MARKER_ARRAY)
    assert {m.type for m in no_mesh.markers} == {LINE_LIST}
    assert typestore.deserialize_cdr(frame_markers(frame(), store=store), ours.MARKER_ARRAY).markers == []


def test_time_conversion_round_trips() -> None:
    for ns in (0, 1, 1_700_000_000_123_456_789):
        assert time_to_ns(stamp_ns_to_time(ns)) == ns
    assert time_to_ns(SimpleNamespace(sec=3, nanosec=7)) == 3_000_000_007
