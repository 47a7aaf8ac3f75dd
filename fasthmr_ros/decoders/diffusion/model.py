"""The two stages together, and their checkpoint files.

A VAE checkpoint (`kind: diffusion_vae`) holds the motion VAE; a decoder checkpoint
(`kind: diffusion_decoder`) holds VAE and denoiser, so the node needs one file. Both carry the
`DiffusionConfig` they were built with, the training step and the optimiser state (for resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from fasthmr_ros.config import DiffusionConfig, from_dict, to_dict
from fasthmr_ros.decoders.diffusion.denoiser import LatentDenoiser
from fasthmr_ros.decoders.diffusion.schedule import VSchedule
from fasthmr_ros.decoders.diffusion.vae import MotionVAE
from fasthmr_ros.errors import CheckpointError

KIND_VAE = "diffusion_vae"
KIND_DECODER = "diffusion_decoder"


class DiffusionModel(nn.Module):
    """Features of a window -> motion of the window, in the 133-d representation."""

    def __init__(self, cfg: DiffusionConfig, vae: MotionVAE | None = None):
        super().__init__()
        self.cfg = cfg
        self.vae = vae or MotionVAE(cfg)
        self.denoiser = LatentDenoiser(cfg)
        self.schedule = VSchedule(cfg.timesteps, cfg.beta_start, cfg.beta_end)

    def latent_target(self, motion: torch.Tensor) -> torch.Tensor:
        """Raw motion (B, W, 133) -> the clean, unit-scaled latent the denoiser learns (B, L, D)."""
        mu, _ = self.vae.encode(self.vae.normalize(motion))
        return mu * self.vae.latent_scale

    @torch.no_grad()
    def infer(
        self, features: torch.Tensor, steps: int = 1, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """features (B, W, F) -> motion (B, W, 133), raw units (metres, cos/sin).

        `noise` (1 or B, L, latent_dim) is the starting sample; the decoder passes the same one
        for every person and frame, so a person's result depends only on their own window.
        """
        shape = (features.shape[0], self.cfg.latent_tokens, self.cfg.latent_dim)
        noise = torch.randn(shape, device=features.device) if noise is None else noise.expand(shape)
        latent = self.schedule.sample(lambda x, t: self.denoiser(x, t, features), noise, steps)
        return self.vae.denormalize(self.vae.decode(latent / self.vae.latent_scale))


def save_checkpoint(
    path: str | Path,
    kind: str,
    cfg: DiffusionConfig,
    modules: dict[str, nn.Module],
    step: int,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write atomically: an interrupted save never destroys the previous checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "kind": kind,
        "config": to_dict(cfg),
        "step": step,
        "state": {name: module.state_dict() for name, module in modules.items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".partial")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(
    path: str | Path, kind: str | tuple[str, ...], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read one of our checkpoints (plain tensors and dicts: weights_only loading is safe)."""
    path = Path(path)
    kinds = (kind,) if isinstance(kind, str) else kind
    if not path.is_file():
        raise CheckpointError(f"diffusion checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("kind") not in kinds:
        found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: expected a {' or '.join(kinds)} checkpoint, found {found!r}")
    payload["config"] = from_dict(DiffusionConfig, payload["config"])
    return payload


def load_vae(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[MotionVAE, dict[str, Any]]:
    payload = load_checkpoint(path, (KIND_VAE, KIND_DECODER), map_location)
    vae = MotionVAE(payload["config"])
    _load_state(vae, payload["state"]["vae"], path)
    return vae, payload


def load_diffusion_model(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[DiffusionModel, dict[str, Any]]:
    payload = load_checkpoint(path, KIND_DECODER, map_location)
    model = DiffusionModel(payload["config"])
    _load_state(model.vae, payload["state"]["vae"], path)
    _load_state(model.denoiser, payload["state"]["denoiser"], path)
    return model, payload


def _load_state(module: nn.Module, state: dict[str, Any], path: str | Path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored configuration ({exc})") from exc
