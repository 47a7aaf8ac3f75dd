"""The embedded default body model: a generated mannequin in the official SMPL `.pkl` layout.

!!! NOT SMPL !!!  SMPL is licensed and cannot be shipped, yet the package must run end to end
without any user file (demo, tests, CI). So we generate a body-like mesh with exactly SMPL's
topology sizes (6890 vertices, 13776 triangles, 24 joints, the SMPL kinematic tree) and write
it in the layout of `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`, so the same code path
(`BodyModel` -> smplx) runs on it. Every number derived from it is meaningless for real people.

Construction: eight closed tubes (torso, head+neck, two arms, two legs, two feet), each a stack
of elliptical rings closed by two poles, joined into one closed genus-0 surface by triangular
"bridges" hidden inside the overlap of neighbouring parts (a closed genus-0 mesh with 6890
vertices has exactly 2*6890-4 = 13776 triangles, as SMPL has). The vertices that smplx reads as
extra keypoints (nose, eyes, ears, toes, heels, fingertips) are moved to the indices smplx uses.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from fasthmr_ros.assets.paths import standin_dir
from fasthmr_ros.models.body_model import NUM_FACES, NUM_VERTICES
from fasthmr_ros.models.joints import NUM_SMPL_JOINTS, SMPL_PARENTS
from fasthmr_ros.models.rotation import rotmat_to_rot6d

NUM_BETAS = 10
STANDIN_VERSION = "standin-v2"
STANDIN_WARNING = (
    "Using the generated STAND-IN body model, NOT SMPL: meshes, joints and every estimate are "
    "meaningless until the real SMPL_NEUTRAL.pkl (and real weights) are given."
)

# Rest-pose joints (metres; y up, +x = the body's left, +z = front), close to SMPL's neutral mean
# template and left/right symmetric. Right-side joints are mirrored from the left ones below.
_CENTRE_JOINTS = {
    0: (0.0, -0.223, 0.028), 3: (0.0, -0.109, 0.001), 6: (0.0, 0.025, 0.028),
    9: (0.0, 0.083, 0.031), 12: (0.0, 0.289, -0.015), 15: (0.0, 0.354, 0.042),
}  # fmt: skip
_LEFT_JOINTS = {
    1: (0.069, -0.314, 0.023), 4: (0.105, -0.693, 0.016), 7: (0.090, -1.091, -0.027),
    10: (0.116, -1.144, 0.094), 13: (0.080, 0.194, -0.008), 16: (0.174, 0.225, -0.019),
    18: (0.430, 0.213, -0.040), 20: (0.683, 0.222, -0.046), 22: (0.767, 0.214, -0.058),
}  # fmt: skip
_LEFT_TO_RIGHT = {1: 2, 4: 5, 7: 8, 10: 11, 13: 14, 16: 17, 18: 19, 20: 21, 22: 23}


def rest_joints() -> np.ndarray:
    """(24, 3) rest-pose joint positions the stand-in is built around."""
    joints = np.zeros((NUM_SMPL_JOINTS, 3))
    for j, p in _CENTRE_JOINTS.items():
        joints[j] = p
    for j, p in _LEFT_JOINTS.items():
        joints[j] = p
        joints[_LEFT_TO_RIGHT[j]] = (-p[0], p[1], p[2])
    return joints


# ---------------------------------------------------------------------------------------------
# Geometry: tubes along a main axis, cross-sections perpendicular to it.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tube:
    """A closed tube whose cross-sections are ellipses in planes `axis = const`.

    stations: rows (a, c1, c2, r1, r2): along-axis coordinate, section centre in the two other
    coordinates (in increasing axis-index order), and the ellipse half-axes along them.
    cap0/cap1: length of the rounded end caps before the first / after the last station.
    """

    name: str
    axis: int
    stations: tuple[tuple[float, float, float, float, float], ...]
    cap0: float
    cap1: float
    segments: int
    rings: int
    joints: tuple[int, ...]  # joints whose bones may skin this part


def _mirror(tube: _Tube, name: str, joints: tuple[int, ...]) -> _Tube:
    """Left part -> right part (x -> -x)."""
    stations = []
    for a, c1, c2, r1, r2 in tube.stations:
        if tube.axis == 0:
            stations.append((-a, c1, c2, r1, r2))
        else:  # the first "other" coordinate is x for y- and z-axis tubes
            stations.append((a, -c1, c2, r1, r2))
    if tube.axis == 0:
        return _Tube(name, 0, tuple(stations[::-1]), tube.cap1, tube.cap0, tube.segments, tube.rings, joints)
    return _Tube(name, tube.axis, tuple(stations), tube.cap0, tube.cap1, tube.segments, tube.rings, joints)


# Ring counts are chosen so that the total is exactly 6890 vertices (checked at build time).
_TORSO = _Tube(
    "torso", 1,
    (
        (-0.33, 0.0, 0.000, 0.130, 0.085), (-0.24, 0.0, 0.012, 0.160, 0.105),
        (-0.10, 0.0, 0.020, 0.135, 0.095), (0.03, 0.0, 0.030, 0.145, 0.105),
        (0.15, 0.0, 0.030, 0.165, 0.110), (0.22, 0.0, 0.005, 0.175, 0.090),
        (0.27, 0.0, -0.010, 0.140, 0.075),
    ),
    0.05, 0.05, 48, 42, (0, 1, 2, 3, 6, 9, 12, 13, 14),
)  # fmt: skip
_HEAD = _Tube(
    "head", 1,
    (
        (0.25, 0.0, -0.015, 0.055, 0.055), (0.33, 0.0, 0.000, 0.056, 0.058),
        (0.37, 0.0, 0.025, 0.072, 0.085), (0.43, 0.0, 0.030, 0.085, 0.100),
        (0.49, 0.0, 0.022, 0.078, 0.092),
    ),
    0.02, 0.055, 30, 29, (9, 12, 15),
)  # fmt: skip
_LEFT_ARM = _Tube(
    "left_arm", 0,
    (
        (0.10, 0.215, -0.020, 0.050, 0.050), (0.17, 0.225, -0.019, 0.056, 0.056),
        (0.30, 0.219, -0.030, 0.047, 0.050), (0.43, 0.213, -0.040, 0.038, 0.041),
        (0.55, 0.217, -0.042, 0.037, 0.038), (0.68, 0.222, -0.046, 0.022, 0.030),
        (0.74, 0.218, -0.052, 0.018, 0.045), (0.80, 0.213, -0.058, 0.015, 0.042),
    ),
    0.03, 0.07, 20, 45, (9, 13, 16, 18, 20, 22),
)  # fmt: skip
_LEFT_LEG = _Tube(
    "left_leg", 1,
    (
        (-1.07, 0.090, -0.030, 0.035, 0.038), (-0.85, 0.100, 0.000, 0.050, 0.056),
        (-0.69, 0.105, 0.016, 0.052, 0.055), (-0.50, 0.090, 0.020, 0.070, 0.075),
        (-0.31, 0.072, 0.024, 0.085, 0.090), (-0.20, 0.075, 0.020, 0.080, 0.085),
    ),
    0.04, 0.03, 24, 38, (0, 1, 4, 7),
)  # fmt: skip
_LEFT_FOOT = _Tube(
    "left_foot", 2,
    (
        (-0.07, 0.088, -1.120, 0.035, 0.040), (0.00, 0.093, -1.110, 0.041, 0.050),
        (0.09, 0.110, -1.140, 0.046, 0.030), (0.15, 0.120, -1.152, 0.045, 0.021),
    ),
    0.03, 0.04, 14, 13, (7, 10),
)  # fmt: skip
_RIGHT_ARM = _mirror(_LEFT_ARM, "right_arm", (9, 14, 17, 19, 21, 23))
_RIGHT_LEG = _mirror(_LEFT_LEG, "right_leg", (0, 2, 5, 8))
_RIGHT_FOOT = _mirror(_LEFT_FOOT, "right_foot", (8, 11))
_TUBES = (_TORSO, _HEAD, _LEFT_ARM, _RIGHT_ARM, _LEFT_LEG, _RIGHT_LEG, _LEFT_FOOT, _RIGHT_FOOT)
# Part -> (the part it is bridged to, a point on the part's surface hidden inside the other part,
# a point on the other part's surface hidden inside this part). The bridge joins the faces nearest
# to these points and runs along the part's axis, so it never shows.
_BRIDGES = {
    1: (0, (0.0, 0.23, -0.015), (0.0, 0.32, -0.01)),
    2: (0, (0.07, 0.215, -0.02), (0.175, 0.215, -0.02)),
    3: (0, (-0.07, 0.215, -0.02), (-0.175, 0.215, -0.02)),
    4: (0, (0.075, -0.17, 0.02), (0.075, -0.37, 0.01)),
    5: (0, (-0.075, -0.17, 0.02), (-0.075, -0.37, 0.01)),
    6: (4, (0.09, -1.06, -0.03), (0.09, -1.11, -0.03)),
    7: (5, (-0.09, -1.06, -0.03), (-0.09, -1.11, -0.03)),
}  # fmt: skip


def _meridian(tube: _Tube, samples: int = 400) -> np.ndarray:
    """Dense profile (a, c1, c2, r1, r2) from pole to pole, rounded caps included."""
    st = np.asarray(tube.stations, dtype=np.float64)
    if st[0, 0] > st[-1, 0]:
        raise AssertionError(f"{tube.name}: stations must increase along the axis")
    rows = []
    for phi in np.linspace(0.0, np.pi / 2, samples // 4, endpoint=False):  # cap at the start
        rows.append([st[0, 0] - tube.cap0 * np.cos(phi), *st[0, 1:3], *(st[0, 3:5] * np.sin(phi))])
    a_core = np.linspace(st[0, 0], st[-1, 0], samples // 2)
    core = np.stack([a_core] + [np.interp(a_core, st[:, 0], st[:, k]) for k in range(1, 5)], axis=1)
    rows.extend(core.tolist())
    for phi in np.linspace(0.0, np.pi / 2, samples // 4 + 1)[1:]:  # cap at the end
        rows.append([st[-1, 0] + tube.cap1 * np.sin(phi), *st[-1, 1:3], *(st[-1, 3:5] * np.cos(phi))])
    return np.asarray(rows)


def _tube_mesh(tube: _Tube) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (2 + rings*segments, 3) and outward faces (2*rings*segments, 3) of one tube."""
    prof = _meridian(tube)
    # Rings spaced evenly in meridian arc length (so caps get rings too).
    step = np.hypot(np.diff(prof[:, 0]), np.diff(0.5 * (prof[:, 3] + prof[:, 4])))
    arc = np.concatenate([[0.0], np.cumsum(step)])
    targets = np.linspace(0.0, arc[-1], tube.rings + 2)[1:-1]
    rings = np.stack([np.interp(targets, arc, prof[:, k]) for k in range(5)], axis=1)
    others = [k for k in range(3) if k != tube.axis]
    theta = np.linspace(0.0, 2 * np.pi, tube.segments, endpoint=False)

    def point(a: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        p = np.zeros((*np.broadcast(a, u).shape, 3))
        p[..., tube.axis], p[..., others[0]], p[..., others[1]] = a, u, v
        return p

    ring_pts = point(
        rings[:, None, 0].repeat(tube.segments, 1),
        rings[:, None, 1] + rings[:, None, 3] * np.cos(theta),
        rings[:, None, 2] + rings[:, None, 4] * np.sin(theta),
    ).reshape(-1, 3)
    pole0 = point(np.array(prof[0, 0]), np.array(prof[0, 1]), np.array(prof[0, 2]))
    pole1 = point(np.array(prof[-1, 0]), np.array(prof[-1, 1]), np.array(prof[-1, 2]))
    verts = np.concatenate([pole0[None], ring_pts, pole1[None]])

    S, R = tube.segments, tube.rings
    idx = 1 + np.arange(R * S).reshape(R, S)
    nxt = np.roll(idx, -1, axis=1)
    bands = [np.stack([np.zeros(S, int), nxt[0], idx[0]], 1)]
    for r in range(R - 1):
        bands.append(np.stack([idx[r], nxt[r], nxt[r + 1]], 1))
        bands.append(np.stack([idx[r], nxt[r + 1], idx[r + 1]], 1))
    bands.append(np.stack([np.full(S, R * S + 1), idx[-1], nxt[-1]], 1))
    faces = np.concatenate(bands)
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1]
    return verts, faces


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _bridge(verts: np.ndarray, faces: np.ndarray, fa: int, fb: int) -> np.ndarray:
    """Join two closed parts by removing faces fa and fb and adding a triangular prism (6 faces).

    Orientation: the hole left by (a0,a1,a2) needs the directed edges a_i->a_i+1; the one left
    by face b needs b_m->b_m+1, walked in the opposite sense, so quad i is paired with b edge c-i.
    """
    a, b = faces[fa], faces[fb]
    best, best_cost = 0, np.inf
    for c in range(3):
        cost = sum(float(np.linalg.norm(verts[a[(i + 1) % 3]] - verts[b[(c - i) % 3]])) for i in range(3))
        if cost < best_cost:
            best, best_cost = c, cost
    new = []
    for i in range(3):
        m = (best - i) % 3
        a0, a1, b0, b1 = a[i], a[(i + 1) % 3], b[m], b[(m + 1) % 3]
        new += [(a0, a1, b0), (a0, b0, b1)]
    keep = np.ones(len(faces), bool)
    keep[[fa, fb]] = False
    return np.concatenate([faces[keep], np.asarray(new)])


def _build_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(6890,3) vertices, (13776,3) faces, (6890,) part index of each vertex."""
    tube_verts, tube_faces, tube_part = [], [], []
    n = 0
    for k, tube in enumerate(_TUBES):
        v, f = _tube_mesh(tube)
        tube_verts.append(v)
        tube_faces.append(f + n)
        tube_part.append(np.full(len(v), k))
        n += len(v)
    verts, faces, part = np.concatenate(tube_verts), np.concatenate(tube_faces), np.concatenate(tube_part)
    if len(verts) != NUM_VERTICES:
        raise AssertionError(f"stand-in has {len(verts)} vertices, expected {NUM_VERTICES}")
    for child, (parent, child_anchor, parent_anchor) in _BRIDGES.items():
        face_part = part[faces[:, 0]]
        centroids = verts[faces].mean(axis=1)
        child_faces = np.flatnonzero(face_part == child)
        fa = child_faces[np.argmin(np.linalg.norm(centroids[child_faces] - child_anchor, axis=1))]
        parent_faces = np.flatnonzero(face_part == parent)
        fb = parent_faces[np.argmin(np.linalg.norm(centroids[parent_faces] - parent_anchor, axis=1))]
        faces = _bridge(verts, faces, fa, fb)
    if len(faces) != NUM_FACES:
        raise AssertionError(f"stand-in has {len(faces)} faces, expected {NUM_FACES}")
    return verts, faces, part


def _section_centres(verts: np.ndarray, part: np.ndarray) -> np.ndarray:
    """(V,3) the point on each part's axis curve in the same cross-section plane as the vertex."""
    centres = verts.copy()
    for k, tube in enumerate(_TUBES):
        sel = part == k
        prof = _meridian(tube)
        others = [i for i in range(3) if i != tube.axis]
        a = verts[sel, tube.axis]
        for j, o in enumerate(others):
            centres[sel, o] = np.interp(a, prof[:, 0], prof[:, 1 + j])
    return centres


# Where smplx reads its extra keypoints from (vertex ids), as points on the stand-in body.
_LEFT_KEYPOINTS = {
    "leye": (0, 0.030, 0.425, 0.150), "lear": (0, 0.092, 0.405, 0.020),
    "lthumb": (2, 0.780, 0.210, 0.000), "lindex": (2, 0.865, 0.213, -0.030),
    "lmiddle": (2, 0.870, 0.213, -0.058), "lring": (2, 0.860, 0.213, -0.085),
    "lpinky": (2, 0.840, 0.213, -0.105), "LBigToe": (6, 0.100, -1.165, 0.190),
    "LSmallToe": (6, 0.150, -1.160, 0.160), "LHeel": (6, 0.088, -1.160, -0.100),
}  # fmt: skip
_RIGHT_NAMES = {
    "leye": "reye", "lear": "rear", "lthumb": "rthumb", "lindex": "rindex", "lmiddle": "rmiddle",
    "lring": "rring", "lpinky": "rpinky", "LBigToe": "RBigToe", "LSmallToe": "RSmallToe", "LHeel": "RHeel",
}  # fmt: skip


def _keypoint_targets() -> dict[str, tuple[int, np.ndarray]]:
    targets = {"nose": (1, np.array([0.0, 0.395, 0.165]))}
    for name, (p, x, y, z) in _LEFT_KEYPOINTS.items():
        targets[name] = (p, np.array([x, y, z]))
        targets[_RIGHT_NAMES[name]] = (p + 1 if p != 1 else 1, np.array([-x, y, z]))
    return targets


def _keypoint_order(verts: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Vertex permutation (new index -> old index) putting keypoint vertices where smplx reads them."""
    ids = SMPLX_VERTEX_IDS["smplh"]
    chosen: dict[int, int] = {}  # new index -> old index
    used: set[int] = set()
    for name, (p, target) in _keypoint_targets().items():
        cand = np.flatnonzero(part == p)
        for old in cand[np.argsort(np.linalg.norm(verts[cand] - target, axis=1))]:
            if old not in used:
                break
        used.add(int(old))
        chosen[ids[name]] = int(old)
    rest = iter(i for i in range(NUM_VERTICES) if i not in used)
    return np.array([chosen[i] if i in chosen else next(rest) for i in range(NUM_VERTICES)])


def _bones() -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Segments whose rigid motion each joint drives (joint -> child, or to an end point for leaves)."""
    J = rest_joints()
    ends = {10: (0.12, -1.152, 0.19), 11: (-0.12, -1.152, 0.19), 15: (0.0, 0.53, 0.02),
            22: (0.87, 0.213, -0.058), 23: (-0.87, 0.213, -0.058)}  # fmt: skip
    main_child = {0: 3, 9: 12}
    bones: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for j in range(NUM_SMPL_JOINTS):
        children = [c for c in range(NUM_SMPL_JOINTS) if SMPL_PARENTS[c] == j]
        if j in ends:
            bones[j] = [(J[j], np.asarray(ends[j]))]
        else:
            bones[j] = [(J[j], J[main_child.get(j, children[0])])]
    bones[0].append((J[1], J[2]))  # the pelvis also spans the hips
    return bones


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip((p - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _skinning_weights(verts: np.ndarray, part: np.ndarray, sigma: float = 0.02) -> np.ndarray:
    """(V,24): nearest allowed bone wins, neighbours blend in smoothly over a few cm at joints."""
    bones = _bones()
    dist = np.full((len(verts), NUM_SMPL_JOINTS), np.inf)
    for j, segs in bones.items():
        dist[:, j] = np.min([_segment_distance(verts, a, b) for a, b in segs], axis=0)
    allowed = np.zeros_like(dist, dtype=bool)
    for k, tube in enumerate(_TUBES):
        allowed[np.ix_(part == k, list(tube.joints))] = True
    dist[~allowed] = np.inf
    w = np.exp(-(((dist - dist.min(axis=1, keepdims=True)) / sigma) ** 2))
    w[w < 1e-3] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _point_regressor(verts: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P,V) non-negative rows summing to 1 with rows @ verts ~= points, from nearby vertices."""
    from scipy.optimize import nnls

    reg = np.zeros((len(points), len(verts)))
    for i, p in enumerate(points):
        d = np.linalg.norm(verts - p, axis=1)
        radius = max(1.6 * d.min(), 0.04) + 0.02
        for _ in range(6):  # widen the neighbourhood until the point lies inside its hull
            cand = np.flatnonzero(d < radius)
            w0 = np.exp(-((d[cand] / (0.5 * radius)) ** 2))
            w0 /= w0.sum()
            lam = 1e3  # weight of the exact-position and sum-to-one constraints
            A = np.concatenate([lam * np.vstack([verts[cand].T, np.ones(len(cand))]), np.eye(len(cand))])
            b = np.concatenate([lam * np.append(p, 1.0), w0])
            w, _ = nnls(A, b, maxiter=50 * len(cand))
            w /= w.sum()
            if np.linalg.norm(w @ verts[cand] - p) < 1e-4:
                break
            radius *= 1.5
        reg[i, cand] = w
    return reg


def _smooth_field(verts: np.ndarray, rng: np.random.Generator, waves: int = 3) -> np.ndarray:
    """(V,) a smooth random scalar field in [-1, 1] (a few long-wavelength sinusoids)."""
    field = np.zeros(len(verts))
    for _ in range(waves):
        k = rng.normal(size=3) * 4.0  # wavelength ~1.5 m
        field += np.sin(verts @ k + rng.uniform(0, 2 * np.pi))
    return field / waves


def _shape_directions(verts: np.ndarray, centres: np.ndarray, part: np.ndarray, seed: int) -> np.ndarray:
    """(V,3,10): 0 height/scale, 1 girth, 2 shoulder width, 3 leg length, 4 belly, 5-9 small smooth."""
    dirs = np.zeros((len(verts), 3, NUM_BETAS))
    pelvis = np.array([0.0, -0.22, 0.0])
    radial = verts - centres  # (V,3) from the part's axis out to the surface
    dirs[:, :, 0] = 0.04 * (verts - pelvis)  # +1 -> about 7 cm taller
    dirs[:, :, 1] = 0.12 * radial  # +1 -> 12% thicker limbs and torso
    arm = (part == 2) | (part == 3)
    upper = np.clip(verts[:, 1] / 0.2, 0.0, 1.0) * (part == 0)
    dirs[:, 0, 2] = np.where(arm, 0.02 * np.sign(verts[:, 0]), 0.1 * verts[:, 0] * upper)
    dirs[:, 1, 3] = -0.03 * np.clip((-0.3 - verts[:, 1]) / 0.8, 0.0, 1.0)
    front = np.clip(radial[:, 2] / 0.1, 0.0, 1.0) * (part == 0)
    dirs[:, 2, 4] = 0.02 * front * np.exp(-(((verts[:, 1] + 0.05) / 0.12) ** 2))
    rng = np.random.default_rng(seed)
    norm = np.linalg.norm(radial, axis=1, keepdims=True)
    unit = np.divide(radial, norm, out=np.zeros_like(radial), where=norm > 1e-9)
    for k in range(5, NUM_BETAS):
        dirs[:, :, k] = 0.004 * _smooth_field(verts, rng)[:, None] * unit
    return dirs


def _j19_points() -> np.ndarray:
    """(19,3) HMR 2.0's extra joints (LSP/MPII/H36M conventions) placed on the stand-in."""
    J = rest_joints()
    return np.array([
        J[8], J[5], J[2], J[1], J[4], J[7], J[21], J[19], J[17], J[16], J[18], J[20],
        (0.0, 0.30, 0.0), (0.0, 0.52, 0.02), (0.0, -0.25, 0.02), (0.0, 0.22, 0.0),
        (0.0, 0.05, 0.02), (0.0, 0.37, 0.08), (0.0, 0.45, 0.03),
    ])  # fmt: skip


@dataclass(frozen=True)
class StandinBody:
    """Everything the stand-in files are written from (vertex order already smplx-compatible)."""

    vertices: np.ndarray  # (6890,3)
    faces: np.ndarray  # (13776,3)
    part: np.ndarray  # (6890,) index into the tube list
    weights: np.ndarray  # (6890,24)
    joint_regressor: np.ndarray  # (24,6890)
    shapedirs: np.ndarray  # (6890,3,10)


@functools.lru_cache(maxsize=2)
def build_standin_body(seed: int = 0) -> StandinBody:
    """Generate the stand-in body (NOT SMPL: a mannequin with SMPL's sizes and kinematic tree)."""
    verts, faces, part = _build_mesh()
    order = _keypoint_order(verts, part)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    verts, part, faces = verts[order], part[order], inverse[faces]
    centres = _section_centres(verts, part)
    return StandinBody(
        vertices=verts,
        faces=faces,
        part=part,
        weights=_skinning_weights(verts, part),
        joint_regressor=_point_regressor(verts, rest_joints()),
        shapedirs=_shape_directions(verts, centres, part, seed),
    )


def _atomic_pickle(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    os.replace(tmp, path)


def write_standin_smpl(path: str | Path, seed: int = 0) -> Path:
    """Write the STAND-IN body model (NOT SMPL!) as a `.pkl` in the official SMPL layout.

    Same keys, dtypes and shapes as `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`, so smplx and
    `BodyModel` load it unchanged. It only looks roughly human: every pose, shape or joint
    estimate made with it is MEANINGLESS until the real licensed SMPL file is given.
    """
    body = build_standin_body(seed)
    kintree = np.stack([SMPL_PARENTS, np.arange(NUM_SMPL_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # the official file stores the root's parent as uint32 -1
    data = {
        "v_template": body.vertices.astype(np.float64),
        "shapedirs": body.shapedirs.astype(np.float64),
        "posedirs": np.zeros((NUM_VERTICES, 3, 207), dtype=np.float64),
        "J_regressor": scipy.sparse.csc_matrix(body.joint_regressor),
        "weights": body.weights.astype(np.float64),
        "f": body.faces.astype(np.uint32),
        "kintree_table": kintree,
        "J": body.joint_regressor @ body.vertices,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    path = Path(path)
    _atomic_pickle(data, path)
    return path


def write_standin_j19(path: str | Path) -> Path:
    """Write a STAND-IN (19,6890) vertex regressor pickled like `SMPL_to_J19.pkl` (NOT the real one).

    Only meaningful on the stand-in mesh; joints from it are MEANINGLESS for real people.
    """
    body = build_standin_body()
    path = Path(path)
    _atomic_pickle(_point_regressor(body.vertices, _j19_points()), path)
    return path


def _rot(axis: str, degrees: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


def relaxed_pose() -> np.ndarray:
    """(24,3,3) a relaxed standing pose: arms down, elbows and knees slightly bent.

    Joint 0 is a camera-frame global orientation (x right, y down, z forward), person facing the
    camera, as HMR 2.0's mean pose has it.
    """
    pose = np.tile(np.eye(3), (NUM_SMPL_JOINTS, 1, 1))
    pose[0] = np.diag([1.0, -1.0, -1.0])
    pose[16], pose[17] = _rot("z", -65), _rot("z", 65)
    pose[18], pose[19] = _rot("y", -20), _rot("y", 20)
    pose[4], pose[5] = _rot("x", 5), _rot("x", 5)
    return pose


def write_standin_mean_params(path: str | Path) -> Path:
    """Write a STAND-IN `smpl_mean_params.npz` (keys pose (144,), shape (10,), cam (3,)).

    Made up for the stand-in body (NOT HMR 2.0's file): a plausible start for a random-weight
    head, nothing more. Estimates are MEANINGLESS until the real files are given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        pose=rotmat_to_rot6d(torch.as_tensor(relaxed_pose())).numpy().reshape(-1),
        shape=np.zeros(NUM_BETAS),
        cam=np.array([0.9, 0.0, 0.0]),
    )
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class StandinAssets:
    """Paths of the generated stand-in files (NOT SMPL, NOT HMR 2.0's files)."""

    smpl: Path
    j19: Path
    mean_params: Path


def ensure_standin_assets(cache_dir: str | Path | None = None) -> StandinAssets:
    """Generate the STAND-IN SMPL/J19/mean-param files once (deterministic) and return their paths.

    THESE ARE NOT SMPL: they let the pipeline run without licensed files, and every estimate made
    with them is MEANINGLESS until the real SMPL_NEUTRAL.pkl, SMPL_to_J19.pkl and
    smpl_mean_params.npz are given. Files are regenerated when the version stamp differs.
    """
    folder = Path(cache_dir) if cache_dir is not None else standin_dir()
    assets = StandinAssets(
        smpl=folder / "STANDIN_SMPL_NEUTRAL.pkl",
        j19=folder / "STANDIN_SMPL_to_J19.pkl",
        mean_params=folder / "standin_smpl_mean_params.npz",
    )
    stamp = folder / "VERSION"
    current = stamp.read_text().strip() if stamp.is_file() else None
    files = (assets.smpl, assets.j19, assets.mean_params)
    if current != STANDIN_VERSION or not all(p.is_file() for p in files):
        logging.getLogger(__name__).warning("writing stand-in body model to %s. %s", folder, STANDIN_WARNING)
        write_standin_smpl(assets.smpl)
        write_standin_j19(assets.j19)
        write_standin_mean_params(assets.mean_params)
        tmp = folder / f".VERSION.{os.getpid()}.tmp"
        tmp.write_text(STANDIN_VERSION + "\n")
        os.replace(tmp, stamp)
    return assets
