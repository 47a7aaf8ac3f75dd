"""Training data for the temporal decoders: motion clips and labelled feature sequences.

Two on-disk layouts (documented in docs/decoders.md):

- AMASS motion files (the published SMPL-H npz): `poses` (T,156) axis-angle, `trans` (T,3),
  `betas` (16,), `gender`, `mocap_framerate` (some releases `mocap_frame_rate`). Read into a
  `MotionClip` of SMPL body rotations (root + 21 body joints; SMPL's two hand joints identity),
  resampled to the fps the decoder runs at. They train the motion priors (diffusion VAE,
  GenHMR tokenizer).
- Labelled feature sequences, one npz per sequence (`FeatureSequence`): what the base model saw
  and predicted per frame next to the ground truth. They train the image-conditioned stages.

Plus a synthetic motion generator (smooth periodic joint rotations) and a simulated noisy
single-frame regressor, so CI can train and evaluate decoders without any licensed data.
Rotations are matrices everywhere (the decoders' and the head's native form).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from fasthmr_ros.errors import InputError

NUM_BODY_JOINTS = 23  # SMPL joints after the root
AMASS_BODY_JOINTS = 21  # SMPL-H body joints after the root (SMPL joints 1..21, same order)
NUM_BETAS = 10

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


@dataclass
class FeatureSequence:
    """One labelled video sequence as the base model saw it (layout (b) in docs/decoders.md)."""

    head_token: np.ndarray  # (T, D) the SMPL head's final query token
    global_orient: np.ndarray  # (T, 3, 3) ground truth
    body_pose: np.ndarray  # (T, 23, 3, 3) ground truth
    betas: np.ndarray  # (T, 10) ground truth
    pred_global_orient: np.ndarray  # (T, 3, 3) regression head
    pred_body_pose: np.ndarray  # (T, 23, 3, 3) regression head
    pred_betas: np.ndarray  # (T, 10) regression head
    pred_cam: np.ndarray  # (T, 3) regression head crop camera (s, tx, ty)
    fps: float
    image_tokens: np.ndarray | None = None  # (T, N, C) float16 backbone tokens
    joints3d: np.ndarray | None = None  # (T, 24, 3) ground-truth SMPL joints, metres
    keypoints2d: np.ndarray | None = None  # (T, K, 3) crop-normalised x, y and confidence
    name: str = field(default="", compare=False)

    def __len__(self) -> int:
        return int(self.head_token.shape[0])


# ---------------------------------------------------------------- AMASS motion files


def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3)."""
    flat = rotvec.reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_matrix().reshape(*rotvec.shape[:-1], 3, 3)


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
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable npz file ({exc})") from exc
    with data:
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
    rotations[:, : 1 + AMASS_BODY_JOINTS] = _rotvec_to_matrix(
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
    _atomic_savez(
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
    return _find_npz(root, missing="motion data", kind="motion files", exclude="shape.npz")


def _find_npz(root: str | Path, missing: str, kind: str, exclude: str = "") -> list[Path]:
    """A file as given, or every .npz under a folder (sorted); a clear error when there is none."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{missing} not found: {root}")
    files = sorted(p for p in root.rglob("*.npz") if p.name != exclude)
    if not files:
        raise InputError(f"no .npz {kind} under {root}")
    return files


# ---------------------------------------------------------------- labelled feature sequences

_REQUIRED_SHAPES: dict[str, tuple[int | None, ...]] = {
    "head_token": (None, None),
    "global_orient": (None, 3, 3),
    "body_pose": (None, NUM_BODY_JOINTS, 3, 3),
    "betas": (None, NUM_BETAS),
    "pred_global_orient": (None, 3, 3),
    "pred_body_pose": (None, NUM_BODY_JOINTS, 3, 3),
    "pred_betas": (None, NUM_BETAS),
    "pred_cam": (None, 3),
}
_OPTIONAL_SHAPES: dict[str, tuple[int | None, ...]] = {
    "image_tokens": (None, None, None),
    "joints3d": (None, 24, 3),
    "keypoints2d": (None, None, 3),
}


def _check_shape(
    path: Path, key: str, array: np.ndarray, expected: tuple[int | None, ...], count: int
) -> None:
    ok = array.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, array.shape, strict=False)
    )
    if not ok or array.shape[0] != count:
        want = ", ".join("T" if i == 0 else ("*" if e is None else str(e)) for i, e in enumerate(expected))
        raise InputError(f"{path}: {key} must have shape ({want}) with T={count}, got {array.shape}")


def read_feature_sequence(path: str | Path, load_image_tokens: bool = False) -> FeatureSequence:
    """Read and validate one labelled feature-sequence npz.

    Image tokens are large and only some decoders need them: skipped unless asked for.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable npz file ({exc})") from exc
    with data:
        missing = sorted((set(_REQUIRED_SHAPES) | {"fps"}) - set(data.files))
        if missing:
            raise InputError(f"{path}: not a feature sequence (docs/decoders.md layout b), lacks {missing}")
        count = int(data["head_token"].shape[0])
        if count < 1:
            raise InputError(f"{path}: empty sequence")
        values: dict[str, np.ndarray | None] = {}
        for key, shape in _REQUIRED_SHAPES.items():
            values[key] = np.asarray(data[key], dtype=np.float32)
            _check_shape(path, key, values[key], shape, count)
        for key, shape in _OPTIONAL_SHAPES.items():
            if key not in data.files or (key == "image_tokens" and not load_image_tokens):
                values[key] = None
                continue
            dtype = np.float16 if key == "image_tokens" else np.float32
            values[key] = np.asarray(data[key], dtype=dtype)
            _check_shape(path, key, values[key], shape, count)
        fps = float(data["fps"])
    if fps <= 0 or not np.isfinite(fps):
        raise InputError(f"{path}: fps {fps} is not positive")
    return FeatureSequence(**values, fps=fps, name=path.stem)  # type: ignore[arg-type]


def write_feature_sequence(path: str | Path, seq: FeatureSequence) -> None:
    """Write one sequence atomically (a crash mid-write never leaves a truncated npz behind)."""
    arrays: dict[str, np.ndarray] = {}
    for f in fields(seq):
        value = getattr(seq, f.name)
        if f.name == "name" or value is None:
            continue
        if f.name == "image_tokens":
            arrays[f.name] = np.asarray(value, dtype=np.float16)
        elif f.name == "fps":
            arrays[f.name] = np.array(float(value))
        else:
            arrays[f.name] = np.asarray(value, dtype=np.float32)
    _atomic_savez(Path(path), **arrays)


def find_feature_sequences(root: str | Path) -> list[Path]:
    """All feature-sequence npz files under root (sorted), or root itself when it is a file."""
    return _find_npz(root, missing="feature sequences", kind="feature sequences")


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


# ---------------------------------------------------------------- synthetic data

# Per-joint amplitude scale (radians) for the synthetic generator: large at hips, knees,
# shoulders and elbows, small along the spine and at the wrists, feet and hands.
_AMPLITUDE = np.array(
    [
        0.6,
        0.6,
        0.2,
        0.8,
        0.8,
        0.15,
        0.3,
        0.3,
        0.1,
        0.1,
        0.1,
        0.2,
        0.3,
        0.3,
        0.25,
        0.6,
        0.6,
        0.8,
        0.8,
        0.3,
        0.3,
        0.05,
        0.05,
    ]
)


# Coordinated movement patterns shared by every synthetic clip (fixed seed): joint motion in real
# people is strongly correlated (a few principal components explain most of it), which is what a
# motion prior learns; independent random joints would be neither human-like nor compressible.
_NUM_MODES = 4
_MOTION_BASIS = np.random.default_rng(2024).normal(scale=0.3, size=(_NUM_MODES, NUM_BODY_JOINTS, 3, 2))


def synthetic_motion(
    num_frames: int, fps: float = 30.0, rng: np.random.Generator | None = None
) -> MotionClip:
    """A smooth periodic motion in the camera frame, made of a few coordinated patterns.

    Each clip drives the shared patterns (`_MOTION_BASIS`) with its own frequencies (0.3-1.5 Hz,
    walking to waving), phases and amplitudes, plus a small static pose offset, so different
    seeds give different motions while every clip stays smooth: the ground truth a temporal
    decoder should recover from noisy per-frame estimates.
    """
    rng = rng or np.random.default_rng()
    times = np.arange(num_frames)[:, None] / fps  # (T, 1)
    freq = rng.uniform(0.3, 1.5, size=(1, _NUM_MODES))
    phase = 2 * np.pi * freq * times + rng.uniform(0, 2 * np.pi, size=(1, _NUM_MODES))  # (T, K)
    amplitude = rng.uniform(0.2, 1.0, size=(1, _NUM_MODES))
    waves = np.stack([np.sin(phase), np.cos(phase)], axis=-1) * amplitude[..., None]  # (T, K, 2)
    rotvec = np.einsum("tks,kjcs->tjc", waves, _MOTION_BASIS) * _AMPLITUDE[None, :, None]
    rotvec += rng.normal(scale=0.05, size=(1, NUM_BODY_JOINTS, 3)) * _AMPLITUDE[None, :, None]
    body_pose = _rotvec_to_matrix(rotvec)
    times = times[:, :, None]
    # Root: upright in the camera frame (SMPL's +y up -> camera -y), slowly turning and swaying.
    yaw = rng.uniform(-0.8, 0.8) + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * times[:, 0, 0])
    sway = 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * times[:, 0, 0] + rng.uniform(0, 6.3))
    root_vec = np.stack([sway, yaw, np.zeros_like(yaw)], axis=-1)
    upright = Rotation.from_rotvec([np.pi, 0.0, 0.0]).as_matrix()
    global_orient = upright @ _rotvec_to_matrix(root_vec)
    betas = rng.normal(scale=0.8, size=NUM_BETAS)
    trans = np.zeros((num_frames, 3))
    trans[:, 2] = 4.0
    return MotionClip(global_orient, body_pose, betas, fps, trans, "neutral", "synthetic")


def perturb_rotations(rotations: np.ndarray, noise_rad: float, rng: np.random.Generator) -> np.ndarray:
    """Independent per-frame rotation noise (random axis, normal angle): a regressor's jitter."""
    rotvec = rng.normal(scale=noise_rad / np.sqrt(3), size=(*rotations.shape[:-2], 3))
    return _rotvec_to_matrix(rotvec) @ rotations


def noisy_regression_sequence(
    clip: MotionClip,
    noise_deg: float = 6.0,
    root_noise_deg: float = 3.0,
    feature_dim: int = 1024,
    rng: np.random.Generator | None = None,
) -> FeatureSequence:
    """Simulate a single-frame regressor on a clip: per-frame noisy poses and a head token.

    The simulated head token is a fixed random linear embedding of the noisy pose (HMR 2.0's pose
    is a linear readout of its token), so a decoder must learn to read pose from features and to
    remove the jitter, as with a real encoder.
    """
    rng = rng or np.random.default_rng()
    noise = np.deg2rad(noise_deg)
    pred_root = perturb_rotations(clip.global_orient, np.deg2rad(root_noise_deg), rng)
    pred_body = perturb_rotations(clip.body_pose, noise, rng)
    count = len(clip)
    pose6d = np.concatenate([pred_root[:, None], pred_body], axis=1)[..., :2].reshape(count, -1)  # (T, 144)
    width = pose6d.shape[1]
    embedding = np.random.default_rng(1234).normal(size=(width, feature_dim)) / np.sqrt(width)
    betas = np.tile(clip.betas[:NUM_BETAS], (count, 1))
    pred_betas = betas + rng.normal(scale=0.1, size=betas.shape)
    pred_cam = np.tile([0.9, 0.0, 0.2], (count, 1)) + rng.normal(scale=0.01, size=(count, 3))
    f32 = np.float32
    return FeatureSequence(
        head_token=(pose6d @ embedding).astype(f32),
        global_orient=clip.global_orient.astype(f32),
        body_pose=clip.body_pose.astype(f32),
        betas=betas.astype(f32),
        pred_global_orient=pred_root.astype(f32),
        pred_body_pose=pred_body.astype(f32),
        pred_betas=pred_betas.astype(f32),
        pred_cam=pred_cam.astype(f32),
        fps=clip.fps,
        name=clip.name,
    )  # float32 like a sequence read from disk


def synthetic_clips(count: int, frames: int, fps: float = 30.0, seed: int = 0) -> list[MotionClip]:
    """`count` different synthetic motions (a fixed seed gives the same set every time)."""
    rng = np.random.default_rng(seed)
    clips = [synthetic_motion(frames, fps, rng) for _ in range(count)]
    for i, clip in enumerate(clips):
        clip.name = f"synthetic_{seed}_{i:04d}"
    return clips


def synthetic_sequences(
    count: int, frames: int, fps: float = 30.0, noise_deg: float = 6.0, feature_dim: int = 1024, seed: int = 0
) -> list[FeatureSequence]:
    """Synthetic motions seen through a simulated noisy per-frame regressor (layout (b))."""
    rng = np.random.default_rng(seed + 1)
    return [
        noisy_regression_sequence(clip, noise_deg, noise_deg / 2, feature_dim, rng)
        for clip in synthetic_clips(count, frames, fps, seed)
    ]
