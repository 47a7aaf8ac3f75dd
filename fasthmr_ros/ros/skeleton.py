"""Joint names and bones of the two joint sets a HumanMesh can carry (see msg/HumanMesh.msg).

Markers and the preview video draw skeletons from these bone lists; downstream code can map
`joint_set` + index to a name without reading the .msg comments.
"""

from __future__ import annotations

SMPL_24 = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
]  # fmt: skip
# Parent of each SMPL joint (-1: root): the fixed SMPL kinematic tree.
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]

OPENPOSE_25 = [
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
]  # fmt: skip
J19 = [
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck_lsp", "head_top_lsp", "pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m",
    "head_h36m",
]  # fmt: skip
SMPL_EXTRA_21 = [
    "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    *(f"left_{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky")),
    *(f"right_{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky")),
]  # fmt: skip

JOINT_NAMES: dict[str, list[str]] = {
    "hmr2_44": OPENPOSE_25 + J19,
    "smpl_45": SMPL_24 + SMPL_EXTRA_21,
}

# OpenPose BODY_25 limbs (the 25 joints every hmr2_44 set starts with).
_OPENPOSE_BONES = [
    (1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
    (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
]  # fmt: skip

BONES: dict[str, list[tuple[int, int]]] = {
    "hmr2_44": _OPENPOSE_BONES,
    "smpl_45": [(p, c) for c, p in enumerate(SMPL_PARENTS) if p >= 0],
}


def bones_for(joint_set: str, num_joints: int) -> list[tuple[int, int]]:
    """Bones of `joint_set` that index inside `num_joints` (unknown sets: no bones)."""
    return [(a, b) for a, b in BONES.get(joint_set, []) if a < num_joints and b < num_joints]
