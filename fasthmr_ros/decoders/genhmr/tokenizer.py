"""Pose tokenizer: a VQ-VAE that turns the 21 SMPL body-joint rotations into N discrete tokens.

Layout (our choice; GenHMR only reports 96 tokens and a 2048 x 256 codebook):
encoder  (B,21,6) -> per-joint Linear -> (B,21,H) -> Linear over the joint axis 21->N -> (B,N,H)
         -> residual 1D conv blocks along the token axis -> 1x1 conv -> (B,N,code_dim)
codebook EMA vector quantiser (quantizer.py)
decoder  the mirror image, ending in 6D per joint -> rotation matrix (HMR 2.0's 6D convention).
Why a learned 21->N map: tokens are not tied to single joints, so N can exceed the joint count
(96 > 21) and each token can describe a correlated part of the pose.
The SMPL hand joints (22, 23) are not tokenised; decoders set them to identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fasthmr_ros.config import GenHMRTokenizerConfig
from fasthmr_ros.decoders.genhmr.quantizer import EMACodebook
from fasthmr_ros.models.rotation import rot6d_to_rotmat, rotmat_to_rot6d


class _ResBlock1d(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.GELU(),
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.GELU(),
            nn.Conv1d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N)
        return x + self.net(x)


def _res_stack(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[_ResBlock1d(channels, 3**i) for i in range(count)])


class _AxisLinear(nn.Module):
    """Linear map over the sequence axis of (B, L, C): L_in -> L_out, shared over channels."""

    def __init__(self, length_in: int, length_out: int):
        super().__init__()
        self.proj = nn.Linear(length_in, length_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.transpose(1, 2)).transpose(1, 2)


@dataclass
class TokenizerOutput:
    body_pose: torch.Tensor  # (B, 21, 3, 3) reconstruction
    rot6d: torch.Tensor  # (B, 21, 6) raw decoder output
    indices: torch.Tensor  # (B, N)
    commitment: torch.Tensor  # scalar


class PoseTokenizer(nn.Module):
    identity6d: torch.Tensor  # buffer, registered in __init__

    def __init__(self, cfg: GenHMRTokenizerConfig):
        super().__init__()
        self.cfg = cfg
        H = cfg.hidden_dim
        self.enc_joint = nn.Linear(6, H)
        self.enc_axis = _AxisLinear(cfg.num_joints, cfg.num_tokens)
        self.enc_res = _res_stack(H, cfg.num_res_blocks)
        self.enc_out = nn.Conv1d(H, cfg.code_dim, 1)
        self.codebook = EMACodebook(cfg.codebook_size, cfg.code_dim, cfg.ema_decay, cfg.dead_code_threshold)
        self.dec_in = nn.Conv1d(cfg.code_dim, H, 1)
        self.dec_res = _res_stack(H, cfg.num_res_blocks)
        self.dec_axis = _AxisLinear(cfg.num_tokens, cfg.num_joints)
        self.dec_joint = nn.Sequential(nn.GELU(), nn.Linear(H, 6))
        # Inputs and outputs are offsets from the identity rotation, so an untrained decoder
        # starts near the rest pose instead of at random Gram-Schmidt output.
        self.register_buffer("identity6d", torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), persistent=False)

    def encode_latents(self, body_pose: torch.Tensor) -> torch.Tensor:
        """(B, 21, 3, 3) -> continuous latents (B, N, code_dim) before quantisation."""
        x = self.enc_axis(self.enc_joint(rotmat_to_rot6d(body_pose) - self.identity6d))  # (B, N, H)
        x = self.enc_res(x.transpose(1, 2))
        return self.enc_out(x).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, code_dim) -> (body_pose (B, 21, 3, 3), rot6d (B, 21, 6)).

        Any input (including soft mixtures of codes) gives valid rotations: the 6D output goes
        through Gram-Schmidt, so this is what keeps refinement inside the pose space.
        """
        x = self.dec_res(self.dec_in(latents.transpose(1, 2))).transpose(1, 2)  # (B, N, H)
        rot6d = self.dec_joint(self.dec_axis(x)) + self.identity6d  # (B, 21, 6)
        return rot6d_to_rotmat(rot6d), rot6d

    def encode(self, body_pose: torch.Tensor) -> torch.Tensor:
        """(B, 21, 3, 3) -> token indices (B, N)."""
        return self.codebook.nearest(self.encode_latents(body_pose))

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, N) token indices -> (B, 21, 3, 3)."""
        return self.decode_latents(self.codebook.lookup(indices))[0]

    def forward(self, body_pose: torch.Tensor) -> TokenizerOutput:
        quantised, indices, commitment = self.codebook(self.encode_latents(body_pose))
        pose, rot6d = self.decode_latents(quantised)
        return TokenizerOutput(pose, rot6d, indices, commitment)


def tokenizer_loss(
    out: TokenizerOutput,
    target: torch.Tensor,
    cfg: GenHMRTokenizerConfig,
    joints_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Reconstruction (6D + matrix) + commitment, plus joint positions when a skeleton is given.

    target (B, 21, 3, 3); joints_fn maps (B, 21, 3, 3) body rotations -> (B, J, 3) metres.
    """
    losses = {
        "rot6d": F.mse_loss(out.rot6d, rotmat_to_rot6d(target)),
        "rotmat": F.mse_loss(out.body_pose, target),
        "commit": cfg.commitment_weight * out.commitment,
    }
    if joints_fn is not None:
        losses["joints"] = cfg.joint_loss_weight * F.mse_loss(joints_fn(out.body_pose), joints_fn(target))
    losses["total"] = torch.stack(list(losses.values())).sum()
    return losses
