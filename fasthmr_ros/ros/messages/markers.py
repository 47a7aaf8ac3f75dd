"""RViz `visualization_msgs/MarkerArray` for one frame: mesh TRIANGLE_LIST + skeleton LINE_LIST.

Every marker carries a lifetime, so a person who stops being tracked disappears from RViz after
that long instead of freezing in place; each track keeps one colour for as long as it lives.
A full mesh is 41,328 points (about 1 MB per body): written straight to CDR from numpy
(`fasthmr_ros.ros.messages.cdr`), since building that many message objects is far too slow per frame.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cache

import numpy as np

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.result import FrameResult, PersonResult
from fasthmr_ros.ros.messages.cdr import CdrWriter
from fasthmr_ros.ros.messages.typestore import DEFAULT_STORE, get_typestore
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


# Marker's fields in wire order; `_check_layout` refuses a store whose Marker differs.
MARKER_FIELDS = [
    "header", "ns", "id", "type", "action", "pose", "scale", "color", "lifetime", "frame_locked",
    "points", "colors", "texture_resource", "texture", "uv_coordinates", "text", "mesh_resource",
    "mesh_file", "mesh_use_embedded_materials",
]  # fmt: skip


@dataclass
class _MarkerSpec:
    ns: str
    marker_id: int
    kind: int
    colour: tuple[float, float, float]
    alpha: float
    scale: float
    points: np.ndarray  # (N, 3) metres, the header's frame


@cache
def _check_layout(store: str) -> None:
    fields = [name for name, _ in get_typestore(store).fielddefs["visualization_msgs/msg/Marker"][1]]
    if fields != MARKER_FIELDS:
        raise FastHMRError(f"visualization_msgs/Marker of the {store!r} store has fields {fields}; "
                           "this writer knows only the Humble/Jazzy layout")  # fmt: skip


def _write_marker(
    out: CdrWriter, spec: _MarkerSpec, stamp_ns: int, frame_id: str, style: MarkerStyle
) -> None:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    life_sec, life_nsec = divmod(round(style.lifetime_s * 1e9), 1_000_000_000)
    out.int32(sec)
    out.uint32(nanosec)
    out.string(frame_id)
    out.string(spec.ns)
    out.int32(spec.marker_id)
    out.int32(spec.kind)
    out.int32(ADD)
    out.float64s(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # pose: identity (points are in the header frame)
    out.float64s(spec.scale, spec.scale, spec.scale)
    out.float32s(*spec.colour, spec.alpha)
    out.int32(life_sec)
    out.uint32(life_nsec)
    out.bool(False)  # frame_locked
    out.float64_rows(spec.points)
    out.sequence_length(0)  # colors: one colour for the whole marker
    out.string("")  # texture_resource
    out.int32(0)  # texture: CompressedImage header stamp, frame_id, format, data
    out.uint32(0)
    out.string("")
    out.string("")
    out.uint8_sequence(b"")
    out.sequence_length(0)  # uv_coordinates
    out.string("")  # text
    out.string("")  # mesh_resource
    out.string("")  # mesh_file.filename
    out.uint8_sequence(b"")  # mesh_file.data
    out.bool(False)  # mesh_use_embedded_materials


def _person_specs(
    person: PersonResult, faces: np.ndarray | None, with_mesh: bool, style: MarkerStyle
) -> list[_MarkerSpec]:
    """Skeleton (always) and mesh (when asked and vertices exist) of one person."""
    colour = track_colour(person.track_id)
    joints = np.asarray(person.joints3d, dtype=np.float64).reshape(-1, 3)
    bones = [(a, b) for a, b in SKELETON_EDGES.get(person.joint_set, ()) if max(a, b) < len(joints)]
    segments = joints[np.asarray(bones, dtype=np.int64).reshape(-1)] if bones else np.zeros((0, 3))
    specs = [
        _MarkerSpec(SKELETON_NS, int(person.track_id), LINE_LIST, colour, 1.0, style.line_width_m, segments)
    ]
    if with_mesh and faces is not None and person.vertices is not None:
        corners = np.asarray(person.vertices, dtype=np.float64)[np.asarray(faces).reshape(-1)]  # (3F, 3)
        specs.append(
            _MarkerSpec(MESH_NS, int(person.track_id), TRIANGLE_LIST, colour, style.mesh_alpha, 1.0, corners)
        )
    return specs


def frame_markers(frame: FrameResult, faces: np.ndarray | None = None, with_mesh: bool = True,
                      style: MarkerStyle | None = None, store: str = DEFAULT_STORE) -> bytes:  # fmt: skip
    """visualization_msgs/MarkerArray for every person of a frame as CDR bytes (empty array when
    nobody is there); publishers and bag writers take the bytes as they are."""
    _check_layout(store)
    style = style or MarkerStyle()
    specs = [spec for p in frame.persons for spec in _person_specs(p, faces, with_mesh, style)]
    out = CdrWriter()
    out.sequence_length(len(specs))
    for spec in specs:
        _write_marker(out, spec, frame.stamp_ns, frame.frame_id, style)
    return out.getvalue()
