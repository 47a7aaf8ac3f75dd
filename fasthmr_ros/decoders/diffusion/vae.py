"""Stage 1: a transformer motion VAE, window (W x 133) <-> latent (L x latent_dim).

Why a latent at all: the denoiser then works on 27 tokens instead of 243 frames, and whatever it
outputs decodes into motion the VAE has learned to be plausible (smooth, human). L learned
"distribution tokens" ride along with the frames through the encoder and read out mean and
log-variance; the decoder reads the latent tokens together with W learned frame queries.
"""

from __future__ import annotations

import torch
from torch import nn

from fasthmr_ros.config import DiffusionConfig
from fasthmr_ros.decoders.diffusion.layers import Block, learned_positions
from fasthmr_ros.decoders.diffusion.twist_swing import NUM_POINTS, REPR_DIM


class MotionVAE(nn.Module):
    rep_mean: torch.Tensor  # buffers, registered in __init__
    rep_std: torch.Tensor
    latent_scale: torch.Tensor
    skeleton: torch.Tensor

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        W, L, d = cfg.window, cfg.latent_tokens, cfg.vae_width
        self.frame_in = nn.Linear(REPR_DIM, d)
        self.dist_tokens = learned_positions(L, d)
        self.enc_pos = learned_positions(L + W, d)
        self.encoder = nn.ModuleList(
            Block(d, cfg.vae_heads, cfg.vae_ff, cfg.dropout) for _ in range(cfg.vae_layers)
        )
        self.enc_norm = nn.LayerNorm(d)
        self.to_dist = nn.Linear(d, 2 * cfg.latent_dim)
        self.latent_in = nn.Linear(cfg.latent_dim, d)
        self.frame_queries = learned_positions(W, d)
        self.dec_pos = learned_positions(L + W, d)
        self.decoder = nn.ModuleList(
            Block(d, cfg.vae_heads, cfg.vae_ff, cfg.dropout) for _ in range(cfg.vae_layers)
        )
        self.dec_norm = nn.LayerNorm(d)
        self.frame_out = nn.Linear(d, REPR_DIM)
        # Per-dimension statistics of the representation (set from the training data) and the
        # factor that brings latents to unit variance for the diffusion stage.
        self.register_buffer("rep_mean", torch.zeros(REPR_DIM))
        self.register_buffer("rep_std", torch.ones(REPR_DIM))
        self.register_buffer("latent_scale", torch.ones(()))
        # The rest skeleton (29, 3) the representation is measured on: the training body model's
        # mean shape. IK must use the same one; the person's own shape comes from the base head.
        self.register_buffer("skeleton", torch.zeros(NUM_POINTS, 3))

    def normalize(self, rep: torch.Tensor) -> torch.Tensor:
        return (rep - self.rep_mean) / self.rep_std

    def denormalize(self, rep: torch.Tensor) -> torch.Tensor:
        return rep * self.rep_std + self.rep_mean

    def encode(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised motion (B, W, 133) -> mean, log-variance (B, L, latent_dim)."""
        B = motion.shape[0]
        x = torch.cat([self.dist_tokens.expand(B, -1, -1), self.frame_in(motion)], dim=1) + self.enc_pos
        for block in self.encoder:
            x = block(x)
        mu, logvar = self.to_dist(self.enc_norm(x[:, : self.cfg.latent_tokens])).chunk(2, dim=-1)
        return mu, logvar.clamp(-20.0, 10.0)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, L, latent_dim) -> normalised motion (B, W, 133)."""
        B = latent.shape[0]
        x = torch.cat([self.latent_in(latent), self.frame_queries.expand(B, -1, -1)], dim=1) + self.dec_pos
        for block in self.decoder:
            x = block(x)
        return self.frame_out(self.dec_norm(x[:, self.cfg.latent_tokens :]))

    def forward(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: reconstruction, mean, log-variance (reparameterised sample)."""
        mu, logvar = self.encode(motion)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decode(z), mu, logvar
