"""The interface every pose decoder implements, so `decoder: regression | diffusion | genhmr`
is a configuration choice and the pipeline never special-cases one.

A decoder refines what the base regression head predicted for a batch of persons; shape and
camera always come from the base head (FastHMR §3.3 replaces only the pose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from fasthmr_ros.decoders.history import TrackFrame


@dataclass
class DecoderInput:
    """One frame's batch of persons (B of them)."""

    track_ids: list[int]
    image_tokens: torch.Tensor  # (B, N, C) backbone tokens (after any token merging)
    head_token: torch.Tensor  # (B, D) the regression head's final query token
    global_orient: torch.Tensor  # (B, 1, 3, 3) regression head
    body_pose: torch.Tensor  # (B, 23, 3, 3) regression head
    betas: torch.Tensor  # (B, 10)
    pred_cam: torch.Tensor  # (B, 3)
    histories: list[list[TrackFrame]]  # per person, oldest first, excluding this frame
    keypoints2d: torch.Tensor | None = None  # (B, K, 3) crop-normalised x, y in [-1, 1] and confidence
    stamp_ns: int = 0  # the frame's stamp, for decoders that filter in time (0: unknown)
    # Every track the pipeline still keeps a history for (None: not told), so a stateful decoder
    # can drop the state of tracks that have ended instead of growing with every person ever seen.
    known_track_ids: list[int] | None = None


@dataclass
class DecoderOutput:
    global_orient: torch.Tensor  # (B, 1, 3, 3)
    body_pose: torch.Tensor  # (B, 23, 3, 3)
    used_decoder: list[str]  # per person: which decoder produced it ("regression" on fallback)


class PoseDecoder(Protocol):
    name: str

    def decode(self, batch: DecoderInput) -> DecoderOutput: ...


class RegressionDecoder:
    """The base head's own pose, unchanged (HMR 2.0 behaviour)."""

    name = "regression"

    def decode(self, batch: DecoderInput) -> DecoderOutput:
        return DecoderOutput(batch.global_orient, batch.body_pose, ["regression"] * len(batch.track_ids))
