"""Bone lists for drawing 2D skeletons, one per joint set the body model can report."""

from __future__ import annotations

from fasthmr_ros.models.joints import JOINT_SET_HMR2, JOINT_SET_SMPL, SMPL_PARENTS

# Indices name joints as `fasthmr_ros.models.joints.JOINT_NAMES` lists them for each set.
BODY25_EDGES: tuple[tuple[int, int], ...] = (
    (1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
    (11, 22), (22, 23), (11, 24),
)  # fmt: skip

# The 19 regressed joints repeat BODY_25's limb joints, so only the midline chain they add
# (MPII pelvis, H36M spine, MPII thorax, LSP neck, H36M jaw and head, LSP head top) is drawn.
HMR2_44_EDGES: tuple[tuple[int, int], ...] = (
    *BODY25_EDGES, (39, 41), (41, 40), (40, 37), (37, 42), (42, 43), (43, 38),
)  # fmt: skip

# The kinematic tree, then the face points on the head and the feet and fingertips on their limbs.
SMPL_45_EDGES: tuple[tuple[int, int], ...] = (
    *((p, j) for j, p in enumerate(SMPL_PARENTS) if p >= 0),
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
