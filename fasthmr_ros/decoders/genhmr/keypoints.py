"""COCO-17 2D keypoints <-> the SMPL joint set, and the crop camera projection.

COCO-17 (the Ultralytics YOLO-pose export order) has face points, arms and legs. Each maps to one
joint of `BodyModel`'s joint set:
- smplx's 45-joint SMPL output (`smpl_45`): 0..23 are the kinematic joints, 24..28 are the
  vertex joints nose, right eye, left eye, right ear, left ear.
- HMR 2.0's 44-joint set (`hmr2_44`): 0..24 are OpenPose BODY_25 (0 nose, 2/3/4 right arm,
  5/6/7 left arm, 9/10/11 right leg, 12/13/14 left leg, 15 right eye, 16 left eye, 17 right ear,
  18 left ear), then 19 regressed joints.
COCO's hips are the outer hip points of the skin while SMPL's (and OpenPose's) hips are the
joint centres, a few centimetres inward; their weight is halved so they steer the pose less.
"""

from __future__ import annotations

import torch

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.joints import JOINT_SET_HMR2, JOINT_SET_SMPL

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# COCO-17 index -> joint index in each joint set of BodyModel.
COCO17_TO_JOINTS: dict[str, tuple[int, ...]] = {
    JOINT_SET_SMPL: (24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8),
    JOINT_SET_HMR2: (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11),
}
COCO17_WEIGHTS = (1.0,) * 11 + (0.5, 0.5) + (1.0,) * 4

# HMR 2.0's crop camera: a 256-pixel crop seen with a 5000-pixel focal length.
CROP_FOCAL = 5000.0
CROP_SIZE = 256.0


def coco17_joint_index(joint_set: str) -> torch.Tensor:
    if joint_set not in COCO17_TO_JOINTS:
        raise InputError(f"no COCO-17 mapping for joint set {joint_set!r}; known: {sorted(COCO17_TO_JOINTS)}")
    return torch.tensor(COCO17_TO_JOINTS[joint_set], dtype=torch.long)


def check_coco17(keypoints2d: torch.Tensor) -> None:
    if keypoints2d.ndim != 3 or keypoints2d.shape[1:] != (17, 3):
        raise InputError(
            f"2D keypoints must be (B, 17, 3) COCO-17 (x, y, confidence), got {tuple(keypoints2d.shape)}"
        )


def project_to_crop(joints: torch.Tensor, pred_cam: torch.Tensor) -> torch.Tensor:
    """Model-frame joints (B, J, 3) and crop camera (s, tx, ty) (B, 3) -> crop coordinates in [-1, 1].

    The camera sits at depth tz = 2 f / (crop_size * s) (docs/camera.md); x = f (X + tx) / (Z + tz)
    in pixels from the crop centre, divided by half the crop size.
    """
    s, tx, ty = pred_cam.unbind(-1)
    tz = 2 * CROP_FOCAL / (CROP_SIZE * s.clamp_min(1e-3))
    cam_t = torch.stack([tx, ty, tz], dim=-1)[:, None]  # (B, 1, 3)
    p = joints + cam_t
    return CROP_FOCAL * p[..., :2] / p[..., 2:3].clamp_min(1e-3) / (CROP_SIZE / 2)
