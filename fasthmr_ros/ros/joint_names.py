"""Joint names of the two joint sets a HumanMesh can carry, in message order (msg/HumanMesh.msg).

So downstream code maps `joint_set` + index to a name without parsing .msg comments; the bones
drawn between them live in `fasthmr_ros.viz.skeletons`.
"""

from __future__ import annotations

SMPL_24 = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
]  # fmt: skip

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

# Where the SMPL pelvis (joint 0) sits in each set: OpenPose mid_hip is SMPL joint 0 in hmr2_44.
PELVIS_INDEX: dict[str, int] = {"hmr2_44": JOINT_NAMES["hmr2_44"].index("mid_hip"), "smpl_45": 0}
