"""The One-Euro control decoder: smooths a still person's jitter, follows fast motion, keeps
rotations valid, restarts with a track and forgets ended tracks."""

from __future__ import annotations

import math

import torch

from fasthmr_ros.config import DecoderConfig
from fasthmr_ros.decoders import build_decoder
from fasthmr_ros.decoders.base import DecoderInput
from fasthmr_ros.decoders.history import TrackFrame
from fasthmr_ros.decoders.one_euro import OneEuroDecoder

FRAME_NS = 33_333_333  # 30 Hz


def rotation_z(angle: torch.Tensor) -> torch.Tensor:
    """(N,) angles -> (N, 3, 3) rotations about z."""
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1).reshape(-1, 3, 3)


def batch(
    track_ids: list[int], angles: torch.Tensor, frame: int, histories: list[list[TrackFrame]]
) -> DecoderInput:
    """Persons whose 24 joints all turn by `angles` (B,) about z."""
    rotations = rotation_z(angles.repeat_interleave(24)).reshape(len(track_ids), 24, 3, 3)
    count = len(track_ids)
    return DecoderInput(
        track_ids=track_ids,
        image_tokens=torch.zeros(count, 4, 8),
        head_token=torch.zeros(count, 8),
        global_orient=rotations[:, :1],
        body_pose=rotations[:, 1:],
        betas=torch.zeros(count, 10),
        pred_cam=torch.zeros(count, 3),
        histories=histories,
        stamp_ns=frame * FRAME_NS,
        known_track_ids=list(track_ids),
    )


def some_history() -> list[TrackFrame]:
    """A non-empty history: the decoder only reads whether there is one."""
    eye = torch.eye(3).numpy()
    return [TrackFrame(0, eye[0], eye, eye[None].repeat(23, 0), eye[0, :1].repeat(10), eye[0])]


def run(decoder: OneEuroDecoder, angles: torch.Tensor) -> torch.Tensor:
    """Feed one track a sequence of angles; return the filtered angle of joint 0 per frame."""
    out = []
    for frame, angle in enumerate(angles):
        history = some_history() if frame else []
        decoded = decoder.decode(batch([7], angle.reshape(1), frame, [history]))
        root = decoded.global_orient[0, 0]
        out.append(torch.atan2(root[1, 0], root[0, 0]))
    return torch.stack(out)


def test_still_person_jitter_is_cut_and_rotations_stay_valid() -> None:
    gen = torch.Generator().manual_seed(0)
    noisy = 0.3 + 0.05 * torch.randn(90, generator=gen)  # a still joint with 3 degrees of noise
    decoder = OneEuroDecoder(min_cutoff_hz=1.0, beta=0.5, d_cutoff_hz=1.0, frame_rate=30.0)
    filtered = run(decoder, noisy)
    raw_jitter = noisy.diff().abs().mean()
    filtered_jitter = filtered[10:].diff().abs().mean()
    assert filtered_jitter < raw_jitter / 3, (float(raw_jitter), float(filtered_jitter))
    assert abs(float(filtered[30:].mean()) - 0.3) < 0.02
    decoded = decoder.decode(batch([7], torch.tensor([0.3]), 90, [some_history()]))
    rot = torch.cat([decoded.global_orient, decoded.body_pose], dim=1)[0]
    assert torch.allclose(rot @ rot.transpose(-1, -2), torch.eye(3).expand(24, 3, 3), atol=1e-5)
    assert decoded.used_decoder == ["one_euro"]


def test_speed_raises_the_cutoff_so_fast_motion_lags_less() -> None:
    turning = torch.arange(60) * (math.pi / 60)  # 90 degrees a second
    plain = run(OneEuroDecoder(1.0, 0.0, 1.0, 30.0), turning)
    adaptive = run(OneEuroDecoder(1.0, 2.0, 1.0, 30.0), turning)
    lag_plain = (turning - plain)[30:].mean()
    lag_adaptive = (turning - adaptive)[30:].mean()
    assert lag_adaptive < lag_plain / 2, (float(lag_plain), float(lag_adaptive))


def test_a_new_track_starts_from_the_head_and_ended_tracks_are_forgotten() -> None:
    decoder = build_decoder(DecoderConfig(decoder="one_euro"))
    assert isinstance(decoder, OneEuroDecoder)
    first = decoder.decode(batch([1, 2], torch.tensor([0.0, 1.0]), 0, [[], []]))
    assert torch.allclose(first.global_orient[:, 0], rotation_z(torch.tensor([0.0, 1.0])), atol=1e-6)
    moved = decoder.decode(batch([1, 2], torch.tensor([0.5, 1.5]), 1, [some_history()] * 2))
    assert not torch.allclose(moved.global_orient[:, 0], rotation_z(torch.tensor([0.5, 1.5])), atol=1e-3)
    # Track 1 comes back with an empty history (the pipeline reset it): the filter restarts.
    restarted = decoder.decode(batch([1], torch.tensor([-1.0]), 2, [[]]))
    assert torch.allclose(restarted.global_orient[:, 0], rotation_z(torch.tensor([-1.0])), atol=1e-6)
    assert set(decoder._tracks) == {1}  # track 2 is no longer known to the pipeline
