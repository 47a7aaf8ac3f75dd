"""RViz `visualization_msgs/MarkerArray` for one frame: mesh TRIANGLE_LIST + skeleton LINE_LIST.

Every marker carries a lifetime, so a person who stops being tracked disappears from RViz after
that long instead of freezing in place; each track keeps one colour for as long as it lives.
A full mesh is ~41k points (about 1 MB per body as Points): callers throttle it (REFERENCE §4).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

import numpy as np

from fasthmr_ros.pipeline.result import FrameResult, PersonResult
from fasthmr_ros.ros.convert import header
from fasthmr_ros.ros.typestore import DEFAULT_STORE, get_typestore
from fasthmr_ros.viz.skeletons import SKELETON_EDGES

MESH_NS = "fasthmr/mesh"
SKELETON_NS = "fasthmr/skeleton"
TRIANGLE_LIST = 11
LINE_LIST = 5
ADD = 0


@dataclass
class MarkerStyle:
    lifetime_s: float = 0.5  # lost persons vanish after this long
    line_width_m: float = 0.02
    mesh_alpha: float = 0.85


def track_colour(track_id: int) -> tuple[float, float, float]:
    """A stable, well-spread RGB colour per track id (golden-ratio hue steps)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.65, 0.95)


def _points(xyz: np.ndarray, store: str) -> list[Any]:
    Point = get_typestore(store).types["geometry_msgs/msg/Point"]
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).tolist()]


def _marker(
    frame: FrameResult,
    ns: str,
    marker_id: int,
    kind: int,
    style: MarkerStyle,
    store: str,
    colour: tuple[float, float, float],
    alpha: float,
    scale: float,
    points: list[Any],
) -> Any:
    types = get_typestore(store).types
    life_sec, life_nsec = divmod(round(style.lifetime_s * 1e9), 1_000_000_000)
    return types["visualization_msgs/msg/Marker"](
        header=header(frame.stamp_ns, frame.frame_id, store),
        ns=ns,
        id=marker_id,
        type=kind,
        action=ADD,
        pose=types["geometry_msgs/msg/Pose"](
            position=types["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
            orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        ),
        scale=types["geometry_msgs/msg/Vector3"](x=scale, y=scale, z=scale),
        color=types["std_msgs/msg/ColorRGBA"](r=colour[0], g=colour[1], b=colour[2], a=alpha),
        lifetime=types["builtin_interfaces/msg/Duration"](sec=life_sec, nanosec=life_nsec),
        frame_locked=False,
        points=points,
        colors=[],
        texture_resource="",
        texture=types["sensor_msgs/msg/CompressedImage"](
            header=header(0, "", store), format="", data=np.zeros(0, dtype=np.uint8)
        ),
        uv_coordinates=[],
        text="",
        mesh_resource="",
        mesh_file=types["visualization_msgs/msg/MeshFile"](filename="", data=np.zeros(0, dtype=np.uint8)),
        mesh_use_embedded_materials=False,
    )


def person_markers(
    frame: FrameResult,
    person: PersonResult,
    faces: np.ndarray | None,
    with_mesh: bool,
    style: MarkerStyle,
    store: str = DEFAULT_STORE,
) -> list[Any]:
    """Skeleton (always) and mesh (when asked and vertices exist) of one person."""
    colour = track_colour(person.track_id)
    joints = np.asarray(person.joints3d, dtype=np.float64).reshape(-1, 3)
    bones = [(a, b) for a, b in SKELETON_EDGES.get(person.joint_set, ()) if max(a, b) < len(joints)]
    segments = joints[np.asarray(bones, dtype=np.int64).reshape(-1)] if bones else np.zeros((0, 3))
    markers = [
        _marker(
            frame,
            SKELETON_NS,
            int(person.track_id),
            LINE_LIST,
            style,
            store,
            colour,
            1.0,
            style.line_width_m,
            _points(segments, store),
        )
    ]
    if with_mesh and faces is not None and person.vertices is not None:
        corners = np.asarray(person.vertices)[np.asarray(faces).reshape(-1)]  # (3F, 3)
        markers.append(
            _marker(
                frame,
                MESH_NS,
                int(person.track_id),
                TRIANGLE_LIST,
                style,
                store,
                colour,
                style.mesh_alpha,
                1.0,
                _points(corners, store),
            )
        )
    return markers


def frame_markers(
    frame: FrameResult,
    faces: np.ndarray | None = None,
    with_mesh: bool = True,
    style: MarkerStyle | None = None,
    store: str = DEFAULT_STORE,
) -> Any:
    """MarkerArray for every person of a frame (empty array when nobody is there)."""
    style = style or MarkerStyle()
    markers = [m for p in frame.persons for m in person_markers(frame, p, faces, with_mesh, style, store)]
    return get_typestore(store).types["visualization_msgs/msg/MarkerArray"](markers=markers)
