"""The joint sets this package reports: their ids, joint names, the SMPL kinematic tree and how
HMR 2.0 builds its 44 joints from smplx's 45.

One home for these facts, because the body model, the decoders, the drawings, the messages and
ECLM's error all index joints and must agree on what index 8 or 39 is. The ids are also the
`joint_set` values of `msg/HumanMesh.msg`.
"""

from __future__ import annotations

from typing import Final

# Joint-set ids.
JOINT_SET_HMR2: Final = "hmr2_44"  # HMR 2.0's set: OpenPose BODY_25 + 19 (needs SMPL_to_J19.pkl)
JOINT_SET_SMPL: Final = "smpl_45"  # smplx's SMPL output: 24 kinematic joints + 21 vertex joints
JOINT_SET_SMPL24: Final = "smpl_24"  # the 24 kinematic joints alone (always available)

# SMPL's kinematic tree: the parent of each of the 24 joints (-1 for the root, the pelvis).
SMPL_PARENTS: Final[tuple[int, ...]] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip
NUM_SMPL_JOINTS: Final = len(SMPL_PARENTS)

SMPL_JOINT_NAMES: Final[tuple[str, ...]] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip


def _other_side(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


# For each SMPL joint, the joint it becomes in a left-right mirror image (left and right swap).
SMPL_MIRRORED: Final[tuple[int, ...]] = tuple(
    SMPL_JOINT_NAMES.index(_other_side(n)) for n in SMPL_JOINT_NAMES
)

# The 21 joints smplx appends after the 24 (mesh vertices it reads as keypoints).
SMPL_EXTRA_NAMES: Final[tuple[str, ...]] = (
    "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    *(f"left_{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky")),
    *(f"right_{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky")),
)  # fmt: skip

OPENPOSE_BODY25_NAMES: Final[tuple[str, ...]] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

# The 19 joints HMR 2.0 regresses from the mesh vertices with SMPL_to_J19.pkl, in its row order.
J19_NAMES: Final[tuple[str, ...]] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck_lsp", "head_top_lsp", "pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m",
    "head_h36m",
)  # fmt: skip

# For each BODY_25 joint, the smplx joint (of the 45) HMR 2.0 takes it from. "neck" is SMPL's
# neck (12) and "mid_hip" SMPL's pelvis (0); the face and feet points are smplx's vertex joints.
SMPL_TO_OPENPOSE: Final[tuple[int, ...]] = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
)  # fmt: skip

JOINT_NAMES: Final[dict[str, tuple[str, ...]]] = {
    JOINT_SET_HMR2: OPENPOSE_BODY25_NAMES + J19_NAMES,
    JOINT_SET_SMPL: SMPL_JOINT_NAMES + SMPL_EXTRA_NAMES,
    JOINT_SET_SMPL24: SMPL_JOINT_NAMES,
}

# Where SMPL's pelvis (joint 0) sits in each set: the origin of a body's TF frame.
PELVIS_INDEX: Final[dict[str, int]] = {
    JOINT_SET_HMR2: OPENPOSE_BODY25_NAMES.index("mid_hip"),
    JOINT_SET_SMPL: 0,
    JOINT_SET_SMPL24: 0,
}

# The joint HMR 2.0's evaluation aligns root-relative errors on in its 44-joint set: the
# regressed MPII pelvis, not BODY_25's mid-hip.
HMR2_EVAL_PELVIS: Final = len(OPENPOSE_BODY25_NAMES) + J19_NAMES.index("pelvis_mpii")
