"""FastHMR's pose representation (HybrIK style) and its analytic twist-swing inverse kinematics.

Per frame: 29 joint positions (SMPL's 24 + 5 leaves: head top, two middle-finger tips, two toes)
relative to the root, plus each non-root joint's twist about its child bone as (cos, sin):
29*3 + 23*2 = 133 numbers. Positions carry everything the eye sees (bone directions); the twist
carries the one degree of freedom per joint that positions cannot (rotation about the bone).
FastHMR's ablation: this representation 62.1 mm MPJPE on 3DPW versus 95.1 with plain rotations.

IK rebuilds local rotations parent-first: a joint with one child gets swing (the shortest rotation
taking its rest bone onto the observed bone) times twist (about the rest bone); a joint with
several children (pelvis, spine3) gets the least-squares rotation over its children's bones
(Kabsch). Leaves are rigid points on their parent's frame, so on SMPL-generated poses the
round trip is exact.
"""

from __future__ import annotations

import numpy as np
import torch

from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.joints import NUM_SMPL_JOINTS, SMPL_PARENTS

# Leaves 24..28 (head top, left/right middle fingertip, left/right big toe) and the SMPL
# template vertices that locate them.
LEAF_PARENTS = [15, 22, 23, 10, 11]
LEAF_VERTICES = [411, 2445, 5905, 3216, 6617]
PARENTS = [*SMPL_PARENTS, *LEAF_PARENTS]
NUM_JOINTS = NUM_SMPL_JOINTS
NUM_POINTS = len(PARENTS)  # 29
NUM_TWISTS = NUM_JOINTS - 1  # 23
REPR_DIM = NUM_POINTS * 3 + NUM_TWISTS * 2  # 133

CHILDREN: list[list[int]] = [[c for c, p in enumerate(PARENTS) if p == j] for j in range(NUM_JOINTS)]
# The bone that defines each joint's twist axis: its first child (the neck for spine3).
PRIMARY_CHILD = [kids[0] for kids in CHILDREN]
MULTI_CHILD = [j for j in range(NUM_JOINTS) if len(CHILDREN[j]) > 1]  # [0, 9]


def rest_skeleton(body_model: BodyModel, betas: torch.Tensor) -> torch.Tensor:
    """betas (B, nb) -> rest-pose points (B, 29, 3) for that body shape, model frame."""
    smpl = body_model.smpl
    nb = min(betas.shape[-1], smpl.shapedirs.shape[-1])
    v_shaped = smpl.v_template + torch.einsum(
        "vck,bk->bvc", smpl.shapedirs[..., :nb], betas[..., :nb].to(smpl.shapedirs.dtype)
    )  # (B, V, 3)
    joints = torch.einsum("jv,bvc->bjc", smpl.J_regressor, v_shaped)
    leaves = v_shaped[:, LEAF_VERTICES]
    return torch.cat([joints, leaves], dim=1)


@torch.no_grad()
def rest_per_frame(body_model: BodyModel, betas: np.ndarray, count: int) -> torch.Tensor:
    """betas (10,) or (T, 10) -> rest skeletons (T, 29, 3), one mesh per distinct shape only
    (a shaped mesh per frame of a long clip would need gigabytes)."""
    per_frame = np.broadcast_to(betas, (count, betas.shape[-1]))
    shapes, index = np.unique(per_frame, axis=0, return_inverse=True)
    rest = rest_skeleton(body_model, torch.as_tensor(shapes, dtype=torch.float32))
    return rest[torch.as_tensor(index.reshape(-1))]


def bone_offsets(rest: torch.Tensor) -> torch.Tensor:
    """(B, 29, 3) rest points -> (B, 29, 3) offset of each point from its parent (root: itself)."""
    parents = torch.tensor([0, *PARENTS[1:]], device=rest.device)
    offsets = rest - rest[:, parents]
    offsets[:, 0] = rest[:, 0]
    return offsets


def forward_kinematics(rotations: torch.Tensor, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Local rotations (B, 24, 3, 3) on a rest skeleton (B, 29, 3) -> posed points (B, 29, 3)
    and global rotations (B, 24, 3, 3). Matches smplx's joints (no translation)."""
    offsets = bone_offsets(rest).to(rotations.dtype)
    glob: list[torch.Tensor] = [rotations[:, 0]]
    points: list[torch.Tensor] = [offsets[:, 0]]
    for j in range(1, NUM_POINTS):
        parent = PARENTS[j]
        points.append(points[parent] + torch.einsum("bij,bj->bi", glob[parent], offsets[:, j]))
        if j < NUM_JOINTS:
            glob.append(glob[parent] @ rotations[:, j])
    return torch.stack(points, dim=1), torch.stack(glob, dim=1)


def _unit(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def _skew(v: torch.Tensor) -> torch.Tensor:
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*v.shape[:-1], 3, 3)


def swing_rotation(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Shortest rotation taking unit vectors src onto dst (..., 3) -> (..., 3, 3)."""
    cross = _skew(torch.linalg.cross(src, dst))
    cos = (src * dst).sum(-1)[..., None, None]
    eye = torch.eye(3, dtype=src.dtype, device=src.device).expand_as(cross)
    return eye + cross + cross @ cross / (1.0 + cos).clamp_min(1e-8)


def axis_rotation(axis: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rodrigues: unit axis (..., 3), angle given as cos, sin (...) -> (..., 3, 3)."""
    k = _skew(axis)
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device).expand_as(k)
    return eye + sin[..., None, None] * k + (1.0 - cos)[..., None, None] * (k @ k)


def kabsch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Rotation R minimising sum |R src_i - dst_i|^2; src, dst (B, n, 3) -> (B, 3, 3)."""
    cov = dst.transpose(1, 2) @ src  # (B, 3, 3) = sum dst_i src_i^T
    u, _, vh = torch.linalg.svd(cov)
    det = torch.det(u @ vh)
    fix = torch.ones_like(u[:, 0])
    fix[:, 2] = torch.sign(det)
    return u @ torch.diag_embed(fix) @ vh


def twist_angles(rotations: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Twist of each non-root joint about its primary child's rest bone: (B, 24, 3, 3) -> (B, 23, 2)
    as (cos, sin)."""
    offsets = bone_offsets(rest).to(rotations.dtype)
    out = []
    for j in range(1, NUM_JOINTS):
        axis = _unit(offsets[:, PRIMARY_CHILD[j]])  # (B, 3)
        rot = rotations[:, j]
        swing = swing_rotation(axis, _unit(torch.einsum("bij,bj->bi", rot, axis)))
        twist = swing.transpose(1, 2) @ rot  # rotation about `axis`
        # Any vector orthogonal to the axis, then the angle it turns by about the axis.
        helper = torch.where(
            axis[:, :1].abs() < 0.9,
            torch.tensor([1.0, 0.0, 0.0], dtype=axis.dtype, device=axis.device),
            torch.tensor([0.0, 1.0, 0.0], dtype=axis.dtype, device=axis.device),
        )
        ortho = _unit(torch.linalg.cross(axis, helper))
        turned = torch.einsum("bij,bj->bi", twist, ortho)
        cos = (ortho * turned).sum(-1)
        sin = (axis * torch.linalg.cross(ortho, turned)).sum(-1)
        out.append(torch.stack([cos, sin], dim=-1))
    return torch.stack(out, dim=1)


def pose_to_representation(rotations: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Local rotations (B, 24, 3, 3) + rest skeleton (B, 29, 3) -> (B, 133) representation."""
    points, _ = forward_kinematics(rotations, rest)
    rel = points - points[:, :1]
    return torch.cat([rel.flatten(1), twist_angles(rotations, rest).flatten(1)], dim=1)


def split_representation(rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 133) -> points (..., 29, 3), twist (..., 23, 2)."""
    points = rep[..., : NUM_POINTS * 3].reshape(*rep.shape[:-1], NUM_POINTS, 3)
    twist = rep[..., NUM_POINTS * 3 :].reshape(*rep.shape[:-1], NUM_TWISTS, 2)
    return points, twist


def inverse_kinematics(points: torch.Tensor, twist: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Analytic twist-swing IK: points (B, 29, 3), twist (B, 23, 2) (cos, sin; need not be unit),
    rest skeleton (B, 29, 3) -> local rotations (B, 24, 3, 3), root first.

    Only bone directions of `points` are used, so predicted points with slightly wrong bone
    lengths still give valid rotations.
    """
    offsets = bone_offsets(rest).to(points.dtype)
    twist = twist / twist.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    local: list[torch.Tensor] = []  # joint j's rotation at index j (parents come first)
    glob: list[torch.Tensor] = []
    for j in range(NUM_JOINTS):
        parent_rot = glob[SMPL_PARENTS[j]] if j > 0 else None
        if j in MULTI_CHILD:
            src = torch.stack([offsets[:, c] for c in CHILDREN[j]], dim=1)  # (B, n, 3)
            dst = torch.stack([points[:, c] - points[:, j] for c in CHILDREN[j]], dim=1)
            if parent_rot is not None:
                dst = dst @ parent_rot  # into the parent's frame: R_p^T d for each row d
            rot = kabsch(src, dst)
        else:
            child = PRIMARY_CHILD[j]
            axis = _unit(offsets[:, child])
            bone = points[:, child] - points[:, j]
            if parent_rot is not None:
                bone = torch.einsum("bji,bj->bi", parent_rot, bone)
            rot = swing_rotation(axis, _unit(bone)) @ axis_rotation(
                axis, twist[:, j - 1, 0], twist[:, j - 1, 1]
            )
        local.append(rot)
        glob.append(rot if parent_rot is None else parent_rot @ rot)
    return torch.stack(local, dim=1)
