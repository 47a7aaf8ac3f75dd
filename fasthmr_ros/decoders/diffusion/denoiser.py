"""Stage 2: the latent denoiser, conditioned on the window's per-frame features.

Tokens: [timestep, L noisy latents, W projected frame features] with learned positions through a
transformer encoder whose second half concatenates the matching first-half outputs (long skips,
as in U-Nets and MLD): the output at the latent positions is the predicted velocity v.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fasthmr_ros.config import DiffusionConfig
from fasthmr_ros.decoders.diffusion.layers import Block, learned_positions


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer steps (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([args.cos(), args.sin()], dim=-1)
    return nn.functional.pad(emb, (0, dim - 2 * half))


class LatentDenoiser(nn.Module):
    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        if cfg.denoiser_layers < 1 or cfg.denoiser_layers % 2 == 0:
            raise ValueError(f"denoiser_layers must be odd (in, middle, out), got {cfg.denoiser_layers}")
        self.cfg = cfg
        d = cfg.denoiser_width
        half = cfg.denoiser_layers // 2
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.latent_in = nn.Linear(cfg.latent_dim, d)
        self.feature_in = nn.Linear(cfg.feature_dim, d)
        self.pos = learned_positions(1 + cfg.latent_tokens + cfg.window, d)

        def block() -> Block:
            return Block(d, cfg.denoiser_heads, cfg.denoiser_ff, cfg.dropout)

        self.down = nn.ModuleList(block() for _ in range(half))
        self.middle = block()
        self.up = nn.ModuleList(block() for _ in range(half))
        self.skips = nn.ModuleList(nn.Linear(2 * d, d) for _ in range(half))
        self.norm = nn.LayerNorm(d)
        self.latent_out = nn.Linear(d, cfg.latent_dim)

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """noisy (B, L, latent_dim), t (B,), features (B, W, feature_dim) -> v (B, L, latent_dim)."""
        time = self.time_mlp(timestep_embedding(t, self.cfg.denoiser_width))[:, None]
        x = torch.cat([time, self.latent_in(noisy), self.feature_in(features)], dim=1) + self.pos
        skipped = []
        for block in self.down:
            x = block(x)
            skipped.append(x)
        x = self.middle(x)
        for block, skip in zip(self.up, self.skips, strict=True):
            x = block(skip(torch.cat([x, skipped.pop()], dim=-1)))
        return self.latent_out(self.norm(x[:, 1 : 1 + self.cfg.latent_tokens]))
