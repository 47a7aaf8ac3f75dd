"""Noise schedule, v-prediction algebra and DDIM sampling for the latent denoiser.

Scaled-linear betas (0.00085..0.012, T = 1000) rescaled to zero terminal SNR (Lin et al. 2024):
at the last step the latent is pure noise, so a single denoising step from t = T-1 is a proper
prediction of the clean latent (with v-prediction, x0 = -v there) rather than a biased one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def scaled_linear_zero_snr(timesteps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """Cumulative alpha products (T,) in float64, alphas_cumprod[-1] == 0."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float64) ** 2
    sqrt_ab = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)  # shift last to 0, keep the first
    return sqrt_ab**2


class VSchedule:
    """v = sqrt(ab) eps - sqrt(1-ab) x0; x_t = sqrt(ab) x0 + sqrt(1-ab) eps."""

    def __init__(self, timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012):
        self.timesteps = timesteps
        self.alphas_cumprod = scaled_linear_zero_snr(timesteps, beta_start, beta_end)

    def _coeffs(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ab = self.alphas_cumprod.to(like.device)[t].to(like.dtype)
        shape = (-1,) + (1,) * (like.dim() - 1)
        return ab.sqrt().reshape(shape), (1.0 - ab).sqrt().reshape(shape)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = self._coeffs(t, x0)
        return a * x0 + s * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = self._coeffs(t, x0)
        return a * noise - s * x0

    def split_v(
        self, x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_t, predicted v) -> (predicted x0, predicted eps)."""
        a, s = self._coeffs(t, x_t)
        return a * x_t - s * v, s * x_t + a * v

    def loss(
        self, v_pred: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """FastHMR's combined objective |v^ - v|^2 + |eps^ - eps|^2 (means over elements)."""
        _, eps_pred = self.split_v(x_t, v_pred, t)
        return ((v_pred - self.velocity(x0, noise, t)) ** 2).mean() + ((eps_pred - noise) ** 2).mean()

    def sample(
        self,
        predict_v: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        noise: torch.Tensor,
        steps: int = 1,
    ) -> torch.Tensor:
        """Deterministic DDIM from the pure noise given (the t = T-1 sample) in `steps` evenly
        spaced ("trailing") steps."""
        if steps < 1:
            raise ValueError("steps must be >= 1")
        x, shape, device = noise, noise.shape, noise.device
        times = torch.linspace(self.timesteps - 1, 0, steps + 1).round().long().tolist()
        for i in range(steps):
            t = torch.full((shape[0],), times[i], dtype=torch.long, device=device)
            x0, eps = self.split_v(x, predict_v(x, t), t)
            if i == steps - 1:
                return x0
            a_next, s_next = self._coeffs(torch.full_like(t, times[i + 1]), x)
            x = a_next * x0 + s_next * eps
        return x
