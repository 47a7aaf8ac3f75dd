"""Mesh overlays drawn with numpy + OpenCV only (no OpenGL, pyrender or trimesh).

Why a software rasteriser: the overlay must work on headless robots and in CI without a GPU or
EGL. A vectorised z-buffer over all persons' triangles gives correct occlusion between people
(who overlaps whom) at a few tens of milliseconds per body at 1280x720 on one CPU core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# Per-person colours (BGR, 0..255), chosen to stay distinguishable on typical scenes.
PALETTE_BGR: tuple[tuple[int, int, int], ...] = (
    (230, 180, 120), (120, 200, 240), (150, 230, 150), (200, 150, 230), (120, 140, 250),
    (230, 230, 120), (200, 200, 200), (100, 200, 200),
)  # fmt: skip

Mesh = tuple[np.ndarray, np.ndarray]  # vertices (V,3) in the camera optical frame (metres), faces (F,3)


@dataclass
class Raster:
    """Per-pixel result of rasterising several meshes with one shared z-buffer."""

    person: np.ndarray  # (H,W) int32: index into the mesh list, -1 where no mesh is visible
    depth: np.ndarray  # (H,W) float32: camera-frame z in metres, inf where empty
    shade: np.ndarray  # (H,W) float32: Lambert intensity in [0,1] under a headlight


def person_color(index: int) -> tuple[int, int, int]:
    """The default BGR colour of person `index` (cycles through PALETTE_BGR)."""
    return PALETTE_BGR[index % len(PALETTE_BGR)]


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V,3) area-weighted unit normals (outward for counter-clockwise faces seen from outside)."""
    tri = verts[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(verts)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def _check_mesh(verts: np.ndarray, faces: np.ndarray, index: int) -> None:
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"mesh {index}: vertices must be (V,3), got {verts.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"mesh {index}: faces must be (F,3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError(f"mesh {index}: face indices outside 0..{len(verts) - 1}")


def _chunks(counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split consecutive items into runs whose counts sum to at most `limit` (one item at least)."""
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, np.arange(limit, cum[-1], limit), side="right")
    bounds = np.unique(np.concatenate([[0], np.maximum(cuts, 1), [len(counts)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def rasterize_meshes(
    meshes: Sequence[Mesh],
    K: np.ndarray,
    width: int,
    height: int,
    near: float = 0.01,
    ambient: float = 0.3,
    cull_backfaces: bool = True,
    max_candidates: int = 2_000_000,
) -> Raster:
    """Z-buffer all triangles of all meshes in one pass; shading uses a light at the camera.

    Triangles with any vertex closer than `near` (or behind the camera) are skipped: meshes are
    people in front of a camera, and a body cut by the image plane is better left partly undrawn
    than drawn with wrapped-around triangles. `max_candidates` bounds memory (pixel tests per chunk).
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be 3x3, got {K.shape}")
    n_pix = width * height
    inv_z = np.zeros(n_pix, dtype=np.float64)  # 1/z of the nearest surface so far; 0 = empty
    person = np.full(n_pix, -1, dtype=np.int32)
    shade = np.zeros(n_pix, dtype=np.float32)
    for index, (verts, faces) in enumerate(meshes):
        verts = np.asarray(verts, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        _check_mesh(verts, faces, index)
        if not len(faces):
            continue
        z = verts[:, 2]
        safe_z = np.where(z > near, z, 1.0)
        uv = (verts @ K.T)[:, :2] / safe_z[:, None]  # (V,2) pixel coordinates (centres at integers)
        tri_uv = uv[faces]  # (F,3,2)
        x0, y0 = tri_uv[:, 0, 0], tri_uv[:, 0, 1]
        x1, y1 = tri_uv[:, 1, 0], tri_uv[:, 1, 1]
        x2, y2 = tri_uv[:, 2, 0], tri_uv[:, 2, 1]
        det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)  # twice the signed screen area
        keep = (z[faces] > near).all(axis=1) & (np.abs(det) > 1e-12)
        if cull_backfaces:
            # Image y points down, so a face turned towards the camera is clockwise on screen.
            keep &= det < 0
        xmin = np.maximum(np.ceil(tri_uv[..., 0].min(axis=1)), 0)
        xmax = np.minimum(np.floor(tri_uv[..., 0].max(axis=1)), width - 1)
        ymin = np.maximum(np.ceil(tri_uv[..., 1].min(axis=1)), 0)
        ymax = np.minimum(np.floor(tri_uv[..., 1].max(axis=1)), height - 1)
        keep &= (xmax >= xmin) & (ymax >= ymin)
        ids = np.flatnonzero(keep)
        if not len(ids):
            continue
        normals = _vertex_normals(verts, faces)
        counts = ((xmax[ids] - xmin[ids] + 1) * (ymax[ids] - ymin[ids] + 1)).astype(np.int64)
        for start, end in _chunks(counts, max_candidates):
            sel, cnt = ids[start:end], counts[start:end]
            tri = np.repeat(sel, cnt)
            offset = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            box_w = (xmax[tri] - xmin[tri] + 1).astype(np.int64)
            px = xmin[tri] + offset % box_w
            py = ymin[tri] + offset // box_w
            d = det[tri]
            l0 = ((y1[tri] - y2[tri]) * (px - x2[tri]) + (x2[tri] - x1[tri]) * (py - y2[tri])) / d
            l1 = ((y2[tri] - y0[tri]) * (px - x2[tri]) + (x0[tri] - x2[tri]) * (py - y2[tri])) / d
            l2 = 1.0 - l0 - l1
            inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
            tri, px, py = tri[inside], px[inside], py[inside]
            bary = np.stack([l0[inside], l1[inside], l2[inside]], axis=1)  # (N,3) screen-space
            fz = z[faces[tri]]  # (N,3)
            persp = bary / fz  # perspective-correct interpolation weights (unnormalised)
            iz = persp.sum(axis=1)
            pix = py.astype(np.int64) * width + px.astype(np.int64)
            np.maximum.at(inv_z, pix, iz)
            win = iz >= inv_z[pix]
            w = persp[win] / iz[win, None]
            f = faces[tri[win]]
            normal = np.einsum("nk,nkc->nc", w, normals[f])
            point = np.einsum("nk,nkc->nc", w, verts[f])
            cosine = np.abs(np.einsum("nc,nc->n", normal, point))
            cosine /= np.linalg.norm(normal, axis=1) * np.linalg.norm(point, axis=1) + 1e-12
            person[pix[win]] = index
            shade[pix[win]] = ambient + (1.0 - ambient) * cosine
    depth = np.divide(1.0, inv_z, out=np.full(n_pix, np.inf), where=inv_z > 0)
    return Raster(person.reshape(height, width), depth.astype(np.float32).reshape(height, width),
                  shade.reshape(height, width))  # fmt: skip


def render_meshes(
    image_bgr: np.ndarray,
    meshes: Sequence[Mesh],
    K: np.ndarray,
    colors: Sequence[tuple[int, int, int]] | None = None,
    alpha: float = 0.85,
    near: float = 0.01,
) -> np.ndarray:
    """Shaded meshes alpha-blended over a copy of `image_bgr` (H,W,3 uint8); nearest surface wins."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an (H,W,3) BGR image, got {image_bgr.shape}")
    height, width = image_bgr.shape[:2]
    raster = rasterize_meshes(meshes, K, width, height, near=near)
    out = image_bgr.copy()
    covered = raster.person >= 0
    if not covered.any():
        return out
    palette = np.array(
        [colors[i] if colors is not None else person_color(i) for i in range(len(meshes))], dtype=np.float32
    )
    who = raster.person[covered]
    lit = palette[who] * raster.shade[covered, None]
    out[covered] = np.clip((1.0 - alpha) * out[covered] + alpha * lit, 0, 255).astype(np.uint8)
    return out


def draw_skeleton(
    image: np.ndarray,
    joints2d: np.ndarray,
    edges: Sequence[tuple[int, int]],
    color: tuple[int, int, int] = (0, 255, 255),
    thickness: int = 2,
    radius: int = 3,
) -> np.ndarray:
    """Bones and joints (J,2 pixels) drawn on a copy of `image`; non-finite joints are skipped."""
    out = image.copy()
    pts = np.asarray(joints2d, dtype=np.float64)
    finite = np.isfinite(pts).all(axis=1)
    for a, b in edges:
        if a < len(pts) and b < len(pts) and finite[a] and finite[b]:
            pa, pb = np.round(pts[a]).astype(int), np.round(pts[b]).astype(int)
            cv2.line(out, tuple(map(int, pa)), tuple(map(int, pb)), color, thickness, cv2.LINE_AA)
    for p in pts[finite]:
        cv2.circle(out, (round(p[0]), round(p[1])), radius, color, -1, cv2.LINE_AA)
    return out


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[str] | None = None,
    colors: Sequence[tuple[int, int, int]] | None = None,
    thickness: int = 2,
) -> np.ndarray:
    """Boxes (N,4 as x1,y1,x2,y2 pixels) with optional text labels, drawn on a copy of `image`."""
    out = image.copy()
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"{len(labels)} labels for {len(boxes)} boxes")
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
        color = colors[i] if colors is not None else person_color(i)
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), color, thickness, cv2.LINE_AA)
        if labels is not None and labels[i]:
            (tw, th), base = cv2.getTextSize(labels[i], cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
            top = max(int(y1) - th - base - 2, 0)
            cv2.rectangle(out, (int(x1), top), (int(x1) + tw + 4, top + th + base + 2), color, -1)
            cv2.putText(out, labels[i], (int(x1) + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    return out
