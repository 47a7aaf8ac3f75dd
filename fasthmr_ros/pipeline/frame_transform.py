"""Re-expressing one frame's 3D results in another frame (e.g. the robot's `base_link`).

One function moves everything 3D a `FrameResult` holds — root orientation, translation, joints,
vertices — so every consumer (messages, markers, TF children, ROS4HRI) sees one consistent body.
2D quantities (boxes, 2D joints, the crop camera) stay in the image: they do not depend on the
3D frame.

The translation needs care: SMPL rotates the body about its root joint J0 (which depends on the
shape), not about the origin. With x' = R x + t applied to the posed body
`smpl(go) + transl`, the same body is `smpl(R go) + transl'` with
transl' = R (transl + J0) + t - J0, where J0 = pelvis - transl in the source frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fasthmr_ros.models.joints import PELVIS_INDEX
from fasthmr_ros.pipeline.result import FrameResult, PersonResult


@dataclass(frozen=True)
class RigidTransform:
    """x_parent = rotation @ x_child + translation."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    @staticmethod
    def identity() -> RigidTransform:
        return RigidTransform(np.eye(3), np.zeros(3))

    def compose(self, other: RigidTransform) -> RigidTransform:
        """self ∘ other: first `other`, then `self`."""
        return RigidTransform(
            self.rotation @ other.rotation, self.rotation @ other.translation + self.translation
        )

    def inverse(self) -> RigidTransform:
        rt = self.rotation.T
        return RigidTransform(rt, -rt @ self.translation)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) points -> the same points in the parent frame."""
        return np.asarray(points, np.float64) @ self.rotation.T + self.translation


def _root_joint(person: PersonResult) -> np.ndarray:
    """J0 relative to `transl` (the SMPL output's root position before translation)."""
    joints = np.asarray(person.joints3d, np.float64).reshape(-1, 3)
    index = PELVIS_INDEX.get(person.joint_set)
    if index is None or index >= len(joints):
        return np.zeros(3)
    return joints[index] - np.asarray(person.transl, np.float64)


def transform_person(person: PersonResult, transform: RigidTransform) -> PersonResult:
    R, t = transform.rotation, transform.translation
    root = _root_joint(person)
    transl = R @ (np.asarray(person.transl, np.float64) + root) + t - root
    vertices = None if person.vertices is None else transform.apply(person.vertices).astype(np.float32)
    return replace(
        person,
        global_orient=(R @ np.asarray(person.global_orient, np.float64)).astype(np.float32),
        transl=transl.astype(np.float32),
        joints3d=transform.apply(person.joints3d).astype(np.float32),
        vertices=vertices,
    )


def transform_frame(frame: FrameResult, transform: RigidTransform, target_frame: str) -> FrameResult:
    """A copy of `frame` with every 3D quantity in `target_frame`; `transform` maps points of
    `frame.frame_id` into it. The input is not changed."""
    return replace(
        frame,
        frame_id=target_frame,
        persons=[transform_person(p, transform) for p in frame.persons],
    )
