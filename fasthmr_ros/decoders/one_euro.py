"""One-Euro smoothing of the regression head's pose: the control a robotics user would pick.

Not a learned decoder: an adaptive low-pass filter (Casiez et al., CHI 2012) per track and joint.
Its cut-off rises with speed, so a still person is smoothed hard (little jitter) while a fast
movement is followed with little lag. It is here so the temporal diffusion decoder is always
compared with the cheap answer: a learned decoder has to beat this on jitter at equal or lower
error to earn its cost.

Rotations are filtered in the continuous 6D representation (the first two columns of each
rotation matrix) and projected back onto SO(3) by Gram-Schmidt: for the small frame-to-frame
changes of a tracked person this equals filtering on the rotation group to first order, and it
needs no log map. Each joint gets its own cut-off from the speed of its own 6D vector.

Time steps come from the frames' stamps; a frame without a usable stamp step (equal or going
backwards, or no stamp) uses `frame_rate`. A track whose history is empty (new, or reset) starts
its filter afresh from the head's pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fasthmr_ros.config import DecoderConfig
from fasthmr_ros.decoders.base import DecoderInput, DecoderOutput
from fasthmr_ros.models.rotation import rot6d_to_rotmat, rotmat_to_rot6d


@dataclass
class _TrackState:
    """What the filter remembers of one track."""

    value: torch.Tensor  # (24, 6) filtered 6D rotations: root first, then the 23 body joints
    speed: torch.Tensor  # (24,) filtered speed of each joint's 6D vector, per second
    stamp_ns: int


def _alpha(cutoff_hz: torch.Tensor | float, dt_s: float) -> torch.Tensor:
    """Smoothing factor of a first-order low-pass filter with this cut-off, for one step of dt."""
    tau = 1.0 / (2.0 * math.pi * torch.as_tensor(cutoff_hz))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroDecoder:
    """`decoder: one_euro`: the head's pose, smoothed per track by a One-Euro filter."""

    name = "one_euro"

    def __init__(self, min_cutoff_hz: float, beta: float, d_cutoff_hz: float, frame_rate: float) -> None:
        if min_cutoff_hz <= 0 or d_cutoff_hz <= 0 or frame_rate <= 0 or beta < 0:
            raise ValueError("One-Euro cut-offs and frame rate must be positive and beta >= 0")
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.d_cutoff_hz = d_cutoff_hz
        self.frame_rate = frame_rate
        self._tracks: dict[int, _TrackState] = {}

    @classmethod
    def from_config(cls, cfg: DecoderConfig) -> OneEuroDecoder:
        return cls(cfg.one_euro_min_cutoff, cfg.one_euro_beta, cfg.one_euro_d_cutoff, cfg.one_euro_frame_rate)

    def decode(self, batch: DecoderInput) -> DecoderOutput:
        # (B, 24, 3, 3) -> (B, 24, 6)
        rotations = torch.cat([batch.global_orient, batch.body_pose], dim=1)
        raw = rotmat_to_rot6d(rotations)
        smoothed = [
            self._step(track_id, history_empty=not history, value=raw[i], stamp_ns=batch.stamp_ns)
            for i, (track_id, history) in enumerate(zip(batch.track_ids, batch.histories, strict=True))
        ]
        out = rot6d_to_rotmat(torch.stack(smoothed)) if smoothed else rotations
        self._forget_unseen(batch)
        return DecoderOutput(out[:, :1], out[:, 1:], [self.name] * len(batch.track_ids))

    def _step(self, track_id: int, history_empty: bool, value: torch.Tensor, stamp_ns: int) -> torch.Tensor:
        state = self._tracks.get(track_id)
        if state is None or history_empty:
            self._tracks[track_id] = _TrackState(value.clone(), torch.zeros(value.shape[0]), stamp_ns)
            return value
        dt = (stamp_ns - state.stamp_ns) * 1e-9
        if not dt > 0:
            dt = 1.0 / self.frame_rate
        speed = torch.linalg.vector_norm(value - state.value, dim=-1) / dt  # (24,)
        speed = state.speed + _alpha(self.d_cutoff_hz, dt) * (speed - state.speed)
        alpha = _alpha(self.min_cutoff_hz + self.beta * speed, dt).unsqueeze(-1)  # (24, 1)
        filtered = state.value + alpha * (value - state.value)
        self._tracks[track_id] = _TrackState(filtered, speed, stamp_ns)
        return filtered

    def _forget_unseen(self, batch: DecoderInput) -> None:
        """Drop the state of tracks the pipeline no longer keeps a history for (it owns lifetimes).

        A track that is in this frame always stays; one that is not and had its history evicted
        returns, if ever, with an empty history and so restarts anyway. Bounded by the tracks the
        pipeline itself holds, which `known_track_ids` lists when given.
        """
        if batch.known_track_ids is None:
            return
        keep = set(batch.known_track_ids) | set(batch.track_ids)
        for track_id in [t for t in self._tracks if t not in keep]:
            del self._tracks[track_id]
