"""Bone lists for drawing 2D skeletons, one per joint set the body model can report."""

from __future__ import annotations

from fasthmr_ros.models.body_model import JOINT_SET_HMR2, JOINT_SET_SMPL

# OpenPose BODY_25: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8 mid-hip, 9-11 right leg,
# 12-14 left leg, 15/16 eyes, 17/18 ears, 19-21 left foot (big toe, small toe, heel), 22-24 right.
BODY25_EDGES: tuple[tuple[int, int], ...] = (
    (1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
    (11, 22), (22, 23), (11, 24),
)  # fmt: skip

# HMR 2.0's 44 joints = BODY_25 + 19 (25 r-ankle, 26 r-knee, 27 r-hip, 28 l-hip, 29 l-knee,
# 30 l-ankle, 31 r-wrist, 32 r-elbow, 33 r-shoulder, 34 l-shoulder, 35 l-elbow, 36 l-wrist,
# 37 neck (LSP), 38 head top (LSP), 39 pelvis (MPII), 40 thorax (MPII), 41 spine (H36M),
# 42 jaw (H36M), 43 head (H36M)). The limb joints of the 19 duplicate BODY_25's, so only the
# midline chain they add is drawn.
HMR2_44_EDGES: tuple[tuple[int, int], ...] = (
    *BODY25_EDGES, (39, 41), (41, 40), (40, 37), (37, 42), (42, 43), (43, 38),
)  # fmt: skip

# smplx's 45 joints: the 24 SMPL joints (kinematic tree), then nose, r/l eye, r/l ear (24-28),
# left big toe, small toe, heel (29-31), right (32-34), left fingertips thumb..pinky (35-39), right (40-44).
_SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
SMPL_45_EDGES: tuple[tuple[int, int], ...] = (
    *((p, j) for j, p in enumerate(_SMPL_PARENTS) if p >= 0),
    (15, 24), (24, 25), (24, 26), (25, 27), (26, 28), (10, 29), (29, 30), (7, 31), (11, 32), (32, 33),
    (8, 34), *((22, t) for t in range(35, 40)), *((23, t) for t in range(40, 45)),
)  # fmt: skip

SKELETON_EDGES: dict[str, tuple[tuple[int, int], ...]] = {
    JOINT_SET_HMR2: HMR2_44_EDGES,
    JOINT_SET_SMPL: SMPL_45_EDGES,
}


def edges_for(joint_set: str) -> tuple[tuple[int, int], ...]:
    """The bones to draw for a joint set name as `BodyOutput.joint_set` reports it."""
    try:
        return SKELETON_EDGES[joint_set]
    except KeyError:
        raise ValueError(f"unknown joint set {joint_set!r}; known: {sorted(SKELETON_EDGES)}") from None
