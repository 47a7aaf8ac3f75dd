"""The generated stand-in body model: official SMPL layout, loads through smplx, behaves like a body."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch

from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.joints import JOINT_SET_HMR2, JOINT_SET_SMPL
from fasthmr_ros.models.standin import (
    STANDIN_VERSION,
    ensure_standin_assets,
    write_standin_mean_params,
)

# SMPL's kinematic tree, as published with the model (independent of the generator's table).
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# A few joints of SMPL's neutral mean template (metres, rounded): the stand-in should be close.
SMPL_MEAN_JOINTS = {
    0: (0.00, -0.22, 0.03), 4: (0.10, -0.69, 0.02), 7: (0.09, -1.09, -0.03),
    15: (0.00, 0.35, 0.04), 18: (0.43, 0.21, -0.04), 21: (-0.68, 0.22, -0.05),
}  # fmt: skip


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return ensure_standin_assets(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="module")
def raw(assets):
    with open(assets.smpl, "rb") as f:
        return pickle.load(f, encoding="latin1")


@pytest.fixture(scope="module")
def body(assets):
    return BodyModel(assets.smpl)


def _rest(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.eye(3).expand(batch, 1, 3, 3).clone(), torch.eye(3).expand(batch, 23, 3, 3).clone()


def test_official_layout(raw):
    expected = {
        "v_template": ((6890, 3), np.float64),
        "shapedirs": ((6890, 3, 10), np.float64),
        "posedirs": ((6890, 3, 207), np.float64),
        "weights": ((6890, 24), np.float64),
        "f": ((13776, 3), np.uint32),
        "kintree_table": ((2, 24), None),
        "J": ((24, 3), np.float64),
    }
    for key, (shape, dtype) in expected.items():
        assert isinstance(raw[key], np.ndarray), key
        assert raw[key].shape == shape, key
        if dtype is not None:
            assert raw[key].dtype == dtype, key
    assert isinstance(raw["J_regressor"], scipy.sparse.csc_matrix)
    assert raw["J_regressor"].shape == (24, 6890)
    assert raw["bs_style"] == "lbs" and raw["bs_type"] == "lrotmin"
    parents = raw["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    assert parents.tolist() == SMPL_PARENTS
    assert raw["kintree_table"][1].tolist() == list(range(24))
    assert not raw["posedirs"].any()


def test_mesh_is_closed_oriented_outward_and_connected(raw):
    faces = raw["f"].astype(np.int64)
    verts = raw["v_template"]
    directed = Counter()
    for a, b, c in faces:
        directed.update([(a, b), (b, c), (c, a)])
    assert max(directed.values()) == 1
    assert all(directed[(b, a)] == 1 for a, b in directed)  # every edge shared by exactly two faces
    assert len(np.unique(faces)) == 6890
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6
    assert 0.04 < volume < 0.12  # outward normals; a 70 kg person is about 0.07 m^3
    # One connected component (Euler: V - E + F = 2 for one closed genus-0 surface).
    n_comp = scipy.sparse.csgraph.connected_components(
        scipy.sparse.coo_matrix((np.ones(len(faces) * 3), (faces.ravel(), np.roll(faces, 1, 1).ravel())))
    )[0]
    assert n_comp == 1


def test_rest_pose_is_human_sized_with_smpl_like_joints(raw):
    v = raw["v_template"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.8
    arm_span = v[:, 0].max() - v[:, 0].min()
    assert 1.5 < arm_span < 1.9  # T-pose
    joints = raw["J_regressor"] @ v
    np.testing.assert_allclose(joints, raw["J"], atol=1e-6)
    for j, p in SMPL_MEAN_JOINTS.items():
        assert np.linalg.norm(joints[j] - p) < 0.03, j
    w = raw["weights"]
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)


def test_loads_through_smplx_with_both_joint_sets(assets, body):
    go, bp = _rest()
    out = body(go, bp, torch.zeros(1, 10))
    assert out.joint_set == JOINT_SET_SMPL and out.joints.shape == (1, 45, 3)
    assert out.vertices.shape == (1, 6890, 3)
    out44 = BodyModel(assets.smpl, assets.j19)(go, bp, torch.zeros(1, 10))
    assert out44.joint_set == JOINT_SET_HMR2 and out44.joints.shape == (1, 44, 3)
    # J19 block: right ankle (25) near SMPL joint 8, left wrist (36) near joint 20, head top highest.
    j = out44.joints[0]
    assert torch.dist(j[25], out44.smpl_joints[0, 8]) < 0.01
    assert torch.dist(j[36], out44.smpl_joints[0, 20]) < 0.01
    assert j[38, 1] > j[:, 1].max() - 0.05


def test_smplx_loads_the_file_by_itself(assets, body):
    """smplx's own loader (plain pickle, no help from BodyModel) accepts the file."""
    direct = smplx.SMPL(model_path=str(assets.smpl))
    go, bp = _rest()
    ours = body(go, bp, torch.zeros(1, 10)).vertices
    theirs = direct(betas=torch.zeros(1, 10)).vertices
    torch.testing.assert_close(theirs, ours)
    assert direct.parents.tolist() == SMPL_PARENTS


def test_smplx_keypoint_vertices_sit_on_the_right_body_parts(body):
    go, bp = _rest()
    out = body(go, bp, torch.zeros(1, 10))
    j = out.joints[0].numpy()
    head, lfoot, lwrist, rwrist = j[15], j[10], j[20], j[21]
    nose, reye, leye, rear, lear = j[24:29]
    assert nose[2] > head[2] + 0.05 and nose[1] > head[1]  # in front of the face
    assert leye[0] > 0 > reye[0] and lear[0] > leye[0] and rear[0] < reye[0]
    l_big_toe, l_heel, r_big_toe = j[29], j[31], j[32]
    assert l_big_toe[2] > lfoot[2] and l_heel[2] < lfoot[2] - 0.1 and l_big_toe[0] > 0 > r_big_toe[0]
    assert (j[35:40, 0] > lwrist[0] + 0.05).all() and (j[40:45, 0] < rwrist[0] - 0.05).all()


def test_beta0_changes_height_monotonically(body):
    go, bp = _rest(5)
    betas = torch.zeros(5, 10)
    betas[:, 0] = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    y = body(go, bp, betas).vertices[..., 1]
    heights = (y.max(dim=1).values - y.min(dim=1).values).numpy()
    assert np.all(np.diff(heights) > 0.02), heights


def test_beta1_changes_girth(body):
    go, bp = _rest(2)
    betas = torch.zeros(2, 10)
    betas[1, 1] = 2.0
    v = body(go, bp, betas).vertices.numpy()
    waist = np.abs(v[:, :, 1] + 0.1) < 0.02  # vertices around the waist height
    widths = [np.ptp(v[i, waist[i] & (np.abs(v[i, :, 0]) < 0.25), 0]) for i in range(2)]
    assert widths[1] > widths[0] * 1.1


def test_bent_elbow_moves_hand_not_feet(body):
    go, bp = _rest(2)
    bend = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    bp[1, 17] = bend  # body_pose index 17 = SMPL joint 18, the left elbow
    v = body(go, bp, torch.zeros(2, 10)).vertices.numpy()
    rest = v[0]
    hand = rest[:, 0] > 0.72
    feet = rest[:, 1] < -1.0
    right_hand = rest[:, 0] < -0.72
    moved = np.linalg.norm(v[1] - rest, axis=1)
    assert moved[hand].min() > 0.1
    assert moved[feet].max() < 1e-6 and moved[right_hand].max() < 1e-6
    upper_arm = (rest[:, 0] > 0.2) & (rest[:, 0] < 0.33)
    assert moved[upper_arm].max() < 1e-6  # the bend starts at the elbow, not the shoulder


def test_assets_are_cached_deterministic_and_versioned(tmp_path, assets):
    again = ensure_standin_assets(assets.smpl.parent)
    assert again == assets
    mtime = assets.smpl.stat().st_mtime_ns
    ensure_standin_assets(assets.smpl.parent)
    assert assets.smpl.stat().st_mtime_ns == mtime  # written once
    assert (assets.smpl.parent / "VERSION").read_text().strip() == STANDIN_VERSION

    other = ensure_standin_assets(tmp_path)
    with open(other.smpl, "rb") as f1, open(assets.smpl, "rb") as f2:
        a, b = pickle.load(f1), pickle.load(f2)
    for key in ("v_template", "shapedirs", "weights", "f"):
        np.testing.assert_array_equal(a[key], b[key])
    (tmp_path / "VERSION").write_text("stale\n")
    other.smpl.write_bytes(b"garbage")
    ensure_standin_assets(tmp_path)
    with open(other.smpl, "rb") as f:
        assert pickle.load(f)["v_template"].shape == (6890, 3)


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTHMR_CACHE", str(tmp_path))
    assets = ensure_standin_assets()
    assert assets.smpl.parent == tmp_path / "standin" and assets.smpl.is_file()


def test_mean_params_layout(tmp_path):
    data = np.load(write_standin_mean_params(tmp_path / "mean.npz"))
    assert data["pose"].shape == (144,) and data["shape"].shape == (10,) and data["cam"].shape == (3,)
    six = data["pose"].reshape(24, 6)
    a1, a2 = six[:, :3], six[:, 3:]  # HMR 2.0 reads x[0:3] and x[3:6] as the first two columns
    np.testing.assert_allclose(np.linalg.norm(a1, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.einsum("ij,ij->i", a1, a2), 0.0, atol=1e-6)
    assert a2[0, 1] < -0.9  # the root turns the y-up body into the y-down camera frame
