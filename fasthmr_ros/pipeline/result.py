"""What one processed frame produces: the contract between the pipeline and every consumer.

Plain numpy containers (no torch, no ROS) so message builders, bag writers, the live node and
JSON output all read the same thing. All 3D quantities are in the camera optical frame
(x right, y down, z forward), metres; 2D quantities are image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CameraIntrinsics:
    """Pinhole intrinsics actually used for a frame (from CameraInfo or HMR 2.0's default)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    source: str = "camera_info"  # "camera_info" | "hmr2_default"

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)


@dataclass
class PersonResult:
    """One person in one frame."""

    track_id: int
    score: float
    bbox: np.ndarray  # (4,) x1, y1, x2, y2 pixels
    global_orient: np.ndarray  # (3, 3) rotation, SMPL root in the camera frame
    body_pose: np.ndarray  # (23, 3, 3) SMPL joint rotations relative to their parents
    betas: np.ndarray  # (10,)
    transl: np.ndarray  # (3,) metres, added to the SMPL output (camera frame)
    joints3d: np.ndarray  # (J, 3) metres, camera frame
    joints2d: np.ndarray  # (J, 2) pixels
    joint_set: str  # "hmr2_44" | "smpl_45"
    pred_cam: np.ndarray  # (3,) crop camera (s, tx, ty) as the network gave it
    vertices: np.ndarray | None = None  # (6890, 3) metres, camera frame, when requested
    decoder: str = "regression"


@dataclass
class FrameResult:
    """All persons of one frame, with the stamp and frame of the source image."""

    stamp_ns: int
    frame_id: str
    width: int
    height: int
    camera: CameraIntrinsics
    persons: list[PersonResult] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
