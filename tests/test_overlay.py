"""The OpenCV/numpy mesh overlay: coverage, depth order, culling, clipping, 2D drawing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.joints import JOINT_SET_HMR2, JOINT_SET_SMPL
from fasthmr_ros.models.standin import ensure_standin_assets, relaxed_pose
from fasthmr_ros.viz.overlay import draw_boxes, draw_skeleton, rasterize_meshes, render_meshes
from fasthmr_ros.viz.skeletons import edges_for

K100 = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]])
RED, GREEN = (0, 0, 255), (0, 255, 0)


def square(half: float, z: float, facing_camera: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two triangles spanning [-half, half]^2 at depth z; wound so the normal points at the camera."""
    verts = np.array([[-half, -half, z], [-half, half, z], [half, half, z], [half, -half, z]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    return verts, (faces if facing_camera else faces[:, ::-1])


def uv_sphere(radius: float, centre: tuple[float, ...], n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere with outward (counter-clockwise from outside) faces."""
    theta = np.linspace(0, np.pi, n + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 1, 0]], ring, [[0, -1, 0]]]) * radius + np.asarray(centre)
    m = 2 * n
    idx = 1 + np.arange((n - 1) * m).reshape(n - 1, m)
    nxt = np.roll(idx, -1, axis=1)
    faces = [np.stack([np.zeros(m, int), nxt[0], idx[0]], 1)]
    for r in range(n - 2):
        faces += [np.stack([idx[r], nxt[r], nxt[r + 1]], 1), np.stack([idx[r], nxt[r + 1], idx[r + 1]], 1)]
    faces.append(np.stack([np.full(m, len(verts) - 1), idx[-1], nxt[-1]], 1))
    faces = np.concatenate(faces)
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    if np.einsum("ij,ij->i", a - verts.mean(0), np.cross(b - a, c - a)).sum() < 0:
        faces = faces[:, ::-1]
    return verts, faces


def test_square_colours_exactly_its_projection():
    image = np.full((100, 100, 3), 7, np.uint8)
    out = render_meshes(image, [square(0.5, 2.0)], K100, colors=[RED], alpha=1.0)
    # 0.5 m at 2 m with f=100 -> 25 px each side of the centre: columns/rows 25..75.
    assert (out[30:71, 30:71] != 7).any(axis=2).all()
    assert (out[:20] == 7).all() and (out[80:] == 7).all()
    assert (out[:, :20] == 7).all() and (out[:, 80:] == 7).all()
    centre = out[50, 50].astype(int)
    assert centre[2] > 240 and centre[0] < 10 and centre[1] < 10  # lit head-on: full red
    raster = rasterize_meshes([square(0.5, 2.0)], K100, 100, 100)
    np.testing.assert_allclose(raster.depth[50, 50], 2.0, rtol=1e-6)
    assert np.isinf(raster.depth[5, 5]) and raster.person[5, 5] == -1
    assert image[50, 50].tolist() == [7, 7, 7]  # the input is not modified


def test_back_faces_are_culled():
    image = np.zeros((100, 100, 3), np.uint8)
    out = render_meshes(image, [square(0.5, 2.0, facing_camera=False)], K100)
    assert not out.any()


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_person_wins_whatever_the_order(near_first):
    near, far = square(0.3, 2.0), square(0.6, 3.0)
    meshes, colors = ([near, far], [RED, GREEN]) if near_first else ([far, near], [GREEN, RED])
    out = render_meshes(np.zeros((100, 100, 3), np.uint8), meshes, K100, colors=colors, alpha=1.0)
    assert out[50, 50, 2] > 200 and out[50, 50, 1] == 0  # overlap: the near (red) square
    # Near square: 15 px either side of the centre; far one: 20 px. Column 32 sees only the far one.
    assert out[50, 32, 1] > 200 and out[50, 32, 2] == 0


def test_interpenetrating_surfaces_resolve_per_pixel():
    # A tilted plane crossing a fronto-parallel one: each wins on its own side of the crossing line.
    corners = np.array([[-1.0, -1.0, 1.5], [-1.0, 1.0, 1.5], [1.0, 1.0, 2.5], [1.0, -1.0, 2.5]])
    tilted = (corners, square(1, 2)[1])
    raster = rasterize_meshes([square(1.0, 2.0), tilted], K100, 100, 100)
    assert raster.person[50, 30] == 1 and raster.person[50, 70] == 0


def test_closed_mesh_culling_keeps_the_front_and_shades_the_rim_darker():
    sphere = uv_sphere(0.5, (0.0, 0.0, 3.0))
    culled = rasterize_meshes([sphere], K100, 100, 100, cull_backfaces=True)
    both = rasterize_meshes([sphere], K100, 100, 100, cull_backfaces=False)
    np.testing.assert_array_equal(culled.person, both.person)
    np.testing.assert_allclose(culled.depth, both.depth, rtol=1e-6)  # the front surface, not the back
    assert 2.45 < culled.depth[50, 50] < 2.55
    rim = culled.shade[50, np.flatnonzero(culled.person[50] >= 0)[0]]
    assert culled.shade[50, 50] > 0.95 > rim + 0.2


def test_triangles_behind_or_across_the_camera_are_skipped_without_crashing():
    behind = square(0.5, -2.0)
    across = (np.array([[-0.5, -0.5, -1.0], [-0.5, 0.5, 1.0], [0.5, 0.5, 1.0]]), np.array([[0, 1, 2]]))
    grazing = (np.array([[-1.0, -0.1, 1e-6], [-0.5, 0.1, 2.0], [0.5, 0.1, 2.0]]), np.array([[0, 1, 2]]))
    out = render_meshes(np.zeros((100, 100, 3), np.uint8), [behind, across, grazing, square(0.2, 2.0)], K100)
    assert out[50, 50].any() and not out[5, 5].any()
    assert render_meshes(np.zeros((10, 10, 3), np.uint8), [], K100).sum() == 0


def test_bad_mesh_input_is_reported():
    with pytest.raises(ValueError, match="face indices"):
        render_meshes(np.zeros((10, 10, 3), np.uint8), [(np.zeros((3, 3)), np.array([[0, 1, 5]]))], K100)
    with pytest.raises(ValueError, match="3x3"):
        render_meshes(np.zeros((10, 10, 3), np.uint8), [square(0.5, 2)], np.eye(4))


def test_small_chunks_give_the_same_raster():
    sphere = uv_sphere(0.5, (0.1, 0.0, 2.0))
    ref = rasterize_meshes([sphere, square(0.4, 2.2)], K100, 100, 100)
    chunked = rasterize_meshes([sphere, square(0.4, 2.2)], K100, 100, 100, max_candidates=50)
    np.testing.assert_array_equal(ref.person, chunked.person)
    np.testing.assert_allclose(ref.depth, chunked.depth)


def test_standin_body_silhouette_matches_projected_vertices(tmp_path):
    assets = ensure_standin_assets(tmp_path)
    body = BodyModel(assets.smpl)
    pose = torch.as_tensor(relaxed_pose(), dtype=torch.float32)
    verts = body(pose[None, :1], pose[None, 1:], torch.zeros(1, 10)).vertices[0].double().numpy()
    verts += np.array([0.0, 0.2, 3.5])
    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    raster = rasterize_meshes([(verts, body.faces)], K, 1280, 720)
    uv = verts @ K.T
    uv = uv[:, :2] / uv[:, 2:]
    ys, xs = np.nonzero(raster.person == 0)
    assert abs(xs.min() - uv[:, 0].min()) < 2 and abs(xs.max() - uv[:, 0].max()) < 2
    assert abs(ys.min() - uv[:, 1].min()) < 2 and abs(ys.max() - uv[:, 1].max()) < 2
    # Every vertex projects onto the drawn body, or within rounding of its outline.
    outside = cv2.distanceTransform(1 - (raster.person == 0).astype(np.uint8), cv2.DIST_L2, 5)
    assert outside[np.round(uv[:, 1]).astype(int), np.round(uv[:, 0]).astype(int)].max() <= 1.5


def test_draw_skeleton_and_boxes():
    image = np.zeros((60, 60, 3), np.uint8)
    joints = np.array([[10.0, 10.0], [50.0, 10.0], [np.nan, np.nan]])
    out = draw_skeleton(image, joints, [(0, 1), (1, 2)], color=GREEN)
    assert out[10, 30, 1] > 200 and not image.any()
    assert not out[40:, :].any()  # the NaN joint drew nothing
    boxed = draw_boxes(image, np.array([[5, 5, 40, 50]]), ["id 3"], colors=[RED])
    assert boxed[30, 5, 2] > 200 and boxed[50, 20, 2] > 200 and not boxed[30, 20].any()
    with pytest.raises(ValueError, match="labels"):
        draw_boxes(image, np.array([[5, 5, 40, 50]]), ["a", "b"])


@pytest.mark.parametrize(("joint_set", "num_joints"), [(JOINT_SET_HMR2, 44), (JOINT_SET_SMPL, 45)])
def test_skeleton_edges_are_valid(joint_set, num_joints):
    edges = np.array(edges_for(joint_set))
    assert edges.min() >= 0 and edges.max() == num_joints - 1
    assert len({tuple(sorted(e)) for e in edges.tolist()}) == len(edges)  # no duplicate bones
    if joint_set == JOINT_SET_SMPL:
        assert set(edges.ravel().tolist()) == set(range(num_joints))
    else:
        assert set(range(25)) <= set(edges.ravel().tolist())
    with pytest.raises(ValueError, match="unknown joint set"):
        edges_for("coco_17")
