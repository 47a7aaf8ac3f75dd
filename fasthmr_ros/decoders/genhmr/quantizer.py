"""EMA vector quantiser with dead-code reset (the codebook of the pose tokenizer).

Why EMA instead of a codebook loss: codes move towards the running mean of the encoder outputs
assigned to them, which trains faster and more stably than gradient updates (VQ-VAE-2, TokenHMR).
Why dead-code reset: with 2048 codes many are never chosen early on; re-seeding them from
current encoder outputs keeps the whole codebook in use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EMACodebook(nn.Module):
    embed: torch.Tensor  # buffers, registered in __init__
    cluster_size: torch.Tensor
    embed_sum: torch.Tensor
    initialised: torch.Tensor

    def __init__(
        self, size: int, dim: int, decay: float = 0.99, dead_threshold: float = 1.0, eps: float = 1e-5
    ):
        super().__init__()
        self.size, self.dim, self.decay, self.dead_threshold, self.eps = size, dim, decay, dead_threshold, eps
        self.register_buffer("embed", torch.randn(size, dim) * 0.02)  # (K, D)
        self.register_buffer("cluster_size", torch.zeros(size))  # (K,) EMA usage counts
        self.register_buffer("embed_sum", self.embed.clone())  # (K, D) EMA sum of assigned vectors
        self.register_buffer("initialised", torch.tensor(False))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...) index of the closest code (squared Euclidean distance)."""
        flat = z.reshape(-1, self.dim)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed.t() + self.embed.pow(2).sum(1)[None]
        return dist.argmin(1).reshape(z.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """(...) int -> (..., D)."""
        return F.embedding(indices, self.embed)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (..., D) -> (straight-through quantised z, indices, commitment loss)."""
        if self.training:
            self._maybe_initialise(z)
        indices = self.nearest(z)
        quantised = self.lookup(indices)
        if self.training:
            self._ema_update(z.detach(), indices)
        commitment = F.mse_loss(z, quantised.detach())
        return z + (quantised - z).detach(), indices, commitment

    def usage(self) -> float:
        """Fraction of codes whose EMA usage is above the dead-code threshold."""
        return float((self.cluster_size >= self.dead_threshold).float().mean())

    @torch.no_grad()
    def _maybe_initialise(self, z: torch.Tensor) -> None:
        if bool(self.initialised):
            return
        self.embed.copy_(_random_rows(z.reshape(-1, self.dim), self.size))
        self.embed_sum.copy_(self.embed)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        flat = z.reshape(-1, self.dim)
        onehot = F.one_hot(indices.reshape(-1), self.size).to(flat.dtype)  # (M, K)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        # Laplace smoothing keeps rarely used codes from dividing by ~0.
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.size * self.eps) * total
        self.embed.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_threshold
        if dead.any():
            fresh = _random_rows(flat, int(dead.sum()))
            self.embed[dead] = fresh
            self.embed_sum[dead] = fresh * self.dead_threshold
            self.cluster_size[dead] = self.dead_threshold


def _random_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """`count` rows drawn from x (with replacement when x has fewer), lightly jittered."""
    idx = torch.randint(0, x.shape[0], (count,), device=x.device)
    return x[idx] + 1e-3 * torch.randn(count, x.shape[1], device=x.device, dtype=x.dtype)
