"""AMASS motion files (the published SMPL-H npz, docs/decoders.md layout a) as `MotionClip`s.

`poses` (T,156) axis-angle, `trans` (T,3), `betas` (16,), `gender`, `mocap_framerate` (some
releases `mocap_frame_rate`), read as SMPL body rotations (root + 21 body joints; SMPL's two hand
joints identity) and resampled to the fps the decoder runs at. They train the motion priors
(diffusion VAE, GenHMR tokenizer). Rotations are matrices (the decoders' and the head's form).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from fasthmr_ros.decoders.data.common import NUM_BETAS, NUM_BODY_JOINTS, find_npz, rotvec_to_matrix
from fasthmr_ros.errors import InputError
from fasthmr_ros.npz import atomic_savez, open_npz

AMASS_BODY_JOINTS = 21  # SMPL-H body joints after the root (SMPL joints 1..21, same order)

# AMASS worlds are z-up; decoders work in the camera optical frame (x right, y down, z forward).
# This rotation sends world +z (up) to camera -y and world +y to camera +z (away from the camera).
WORLD_ZUP_TO_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class MotionClip:
    """A motion without images: SMPL rotations per frame at a known frame rate."""

    global_orient: np.ndarray  # (T, 3, 3) root rotation
    body_pose: np.ndarray  # (T, 23, 3, 3) joint rotations relative to their parents
    betas: np.ndarray  # (10,)
    fps: float
    trans: np.ndarray | None = None  # (T, 3) metres
    gender: str = "neutral"
    name: str = ""

    def __len__(self) -> int:
        return int(self.global_orient.shape[0])


def resample_rotations(rotations: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """(T, J, 3, 3) -> (T', J, 3, 3) at dst_fps by per-joint spherical interpolation.

    Why slerp rather than dropping frames: AMASS rates (60, 100, 120, 250 Hz...) rarely divide the
    decoder rate, and a nearest-frame pick would add exactly the jitter the decoder must remove.
    """
    count = rotations.shape[0]
    if count < 2 or abs(src_fps - dst_fps) < 1e-9:
        return rotations.copy()
    src_times = np.arange(count) / src_fps
    dst_times = np.arange(0.0, src_times[-1] + 1e-9, 1.0 / dst_fps)
    out = np.empty((len(dst_times), *rotations.shape[1:]), dtype=np.float64)
    for joint in range(rotations.shape[1]):
        slerp = Slerp(src_times, Rotation.from_matrix(rotations[:, joint]))
        out[:, joint] = slerp(dst_times).as_matrix()
    return out


def resample_linear(values: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """(T, ...) -> (T', ...) by linear interpolation in time (translations, features)."""
    count = values.shape[0]
    if count < 2 or abs(src_fps - dst_fps) < 1e-9:
        return values.copy()
    src_times = np.arange(count) / src_fps
    dst_times = np.arange(0.0, src_times[-1] + 1e-9, 1.0 / dst_fps)
    flat = values.reshape(count, -1)
    out = np.stack([np.interp(dst_times, src_times, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape(len(dst_times), *values.shape[1:])


def read_amass(path: str | Path, target_fps: float | None = 30.0) -> MotionClip:
    """Read one AMASS SMPL-H npz as SMPL body rotations (hands identity), resampled to target_fps.

    The root stays in AMASS's z-up world; `to_camera_frame` turns it into the decoders' frame.
    """
    path = Path(path)
    with open_npz(path) as data:
        if "poses" not in data:
            raise InputError(
                f"{path}: no 'poses' array; an AMASS motion file has poses (T,156), trans, betas, "
                f"gender, mocap_framerate (found {sorted(data.files)}). Shape-only files such as "
                "shape.npz carry no motion."
            )
        poses = np.asarray(data["poses"], dtype=np.float64)
        if poses.ndim != 2 or poses.shape[1] < 3 * (1 + AMASS_BODY_JOINTS) or poses.shape[0] < 1:
            raise InputError(f"{path}: poses must be (T, >=66) axis-angle, got {poses.shape}")
        fps_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in data), None)
        if fps_key is None:
            raise InputError(f"{path}: no mocap_framerate / mocap_frame_rate entry")
        src_fps = float(data[fps_key])
        if not np.isfinite(src_fps) or src_fps <= 0:
            raise InputError(f"{path}: frame rate {src_fps} is not positive")
        betas = np.zeros(NUM_BETAS)
        if "betas" in data:
            raw = np.asarray(data["betas"], dtype=np.float64).reshape(-1)[:NUM_BETAS]
            betas[: len(raw)] = raw
        trans = np.asarray(data["trans"], dtype=np.float64) if "trans" in data else None
        gender = _read_gender(data) if "gender" in data else "neutral"
    if not np.all(np.isfinite(poses)):
        raise InputError(f"{path}: poses contain NaN or infinite values")
    count = poses.shape[0]
    rotations = np.tile(np.eye(3), (count, 1 + NUM_BODY_JOINTS, 1, 1))  # (T, 24, 3, 3)
    rotations[:, : 1 + AMASS_BODY_JOINTS] = rotvec_to_matrix(
        poses[:, : 3 * (1 + AMASS_BODY_JOINTS)].reshape(count, 1 + AMASS_BODY_JOINTS, 3)
    )
    fps = src_fps
    if target_fps is not None:
        rotations = resample_rotations(rotations, src_fps, target_fps)
        if trans is not None:
            trans = resample_linear(trans, src_fps, target_fps)
        fps = float(target_fps)
    return MotionClip(rotations[:, 0], rotations[:, 1:], betas, fps, trans, gender, path.stem)


def _read_gender(data: np.lib.npyio.NpzFile) -> str:
    """AMASS stores gender as a str or bytes scalar; an object array (pickle) reads as unknown."""
    try:
        value = data["gender"].item()
    except ValueError:
        return "neutral"
    return value.decode() if isinstance(value, bytes) else str(value)


def write_amass(path: str | Path, clip: MotionClip) -> None:
    """Write a clip in the AMASS SMPL-H layout (hand joints zero): fixtures and converted data."""
    count = len(clip)
    poses = np.zeros((count, 156))
    poses[:, :3] = Rotation.from_matrix(clip.global_orient).as_rotvec()
    body = clip.body_pose[:, :AMASS_BODY_JOINTS].reshape(-1, 3, 3)
    poses[:, 3:66] = Rotation.from_matrix(body).as_rotvec().reshape(count, -1)
    betas = np.zeros(16)
    betas[:NUM_BETAS] = clip.betas[:NUM_BETAS]
    trans = clip.trans if clip.trans is not None else np.zeros((count, 3))
    atomic_savez(
        Path(path),
        poses=poses,
        trans=trans,
        betas=betas,
        gender=np.array(clip.gender),
        mocap_framerate=np.array(clip.fps),
    )


def to_camera_frame(clip: MotionClip, yaw: float = 0.0) -> MotionClip:
    """Express an AMASS (z-up world) clip's root in the camera frame, turned by `yaw` about up.

    Only the root changes: joint rotations are relative to their parents.
    """
    up = Rotation.from_rotvec([0.0, 0.0, yaw]).as_matrix()
    rot = WORLD_ZUP_TO_CAMERA @ up
    trans = None if clip.trans is None else clip.trans @ rot.T
    return MotionClip(
        rot @ clip.global_orient, clip.body_pose, clip.betas, clip.fps, trans, clip.gender, clip.name
    )


def find_motion_files(root: str | Path) -> list[Path]:
    """All AMASS motion npz files under root (sorted), skipping shape-only `shape.npz` files."""
    return find_npz(root, missing="motion data", kind="motion files", exclude="shape.npz")
