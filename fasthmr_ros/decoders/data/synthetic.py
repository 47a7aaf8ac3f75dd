"""Synthetic motion (smooth, coordinated periodic joint rotations) and a simulated noisy
single-frame regressor, so CI can train and evaluate decoders without any licensed data."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.decoders.data.amass import MotionClip
from fasthmr_ros.decoders.data.common import NUM_BETAS, NUM_BODY_JOINTS, rotvec_to_matrix
from fasthmr_ros.decoders.data.features import FeatureSequence

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
    body_pose = rotvec_to_matrix(rotvec)
    times = times[:, :, None]
    # Root: upright in the camera frame (SMPL's +y up -> camera -y), slowly turning and swaying.
    yaw = rng.uniform(-0.8, 0.8) + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * times[:, 0, 0])
    sway = 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * times[:, 0, 0] + rng.uniform(0, 6.3))
    root_vec = np.stack([sway, yaw, np.zeros_like(yaw)], axis=-1)
    upright = Rotation.from_rotvec([np.pi, 0.0, 0.0]).as_matrix()
    global_orient = upright @ rotvec_to_matrix(root_vec)
    betas = rng.normal(scale=0.8, size=NUM_BETAS)
    trans = np.zeros((num_frames, 3))
    trans[:, 2] = 4.0
    return MotionClip(global_orient, body_pose, betas, fps, trans, "neutral", "synthetic")


def perturb_rotations(rotations: np.ndarray, noise_rad: float, rng: np.random.Generator) -> np.ndarray:
    """Independent per-frame rotation noise (random axis, normal angle): a regressor's jitter."""
    rotvec = rng.normal(scale=noise_rad / np.sqrt(3), size=(*rotations.shape[:-2], 3))
    return rotvec_to_matrix(rotvec) @ rotations


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
