"""Training both stages: windows with time-reversal, time-warp and short-history augmentation.

Augmentations, and why: reversal doubles the motion data (motion played backwards is still human
motion); time warp (0.8x..1.25x speed) covers people moving faster or slower than the data;
short windows stretched over W frames are exactly what the streaming decoder sees for a track
younger than the window, so both stages learn that case too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.config import DiffusionConfig
from fasthmr_ros.decoders.data import FeatureSequence, MotionClip
from fasthmr_ros.decoders.diffusion.model import (
    KIND_DECODER,
    KIND_VAE,
    DiffusionModel,
    load_checkpoint,
    load_vae,
    save_checkpoint,
)
from fasthmr_ros.decoders.diffusion.twist_swing import pose_to_representation, rest_skeleton
from fasthmr_ros.decoders.diffusion.vae import MotionVAE
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    save_every: int = 500
    device: str = "cpu"
    seed: int = 0
    speed_range: tuple[float, float] = (0.8, 1.25)
    short_fraction: float = 0.2  # windows that imitate a young track (stretched short history)
    min_history: int = 4
    # Denoiser only: share of training steps at t = T-1, the step one-step sampling starts from.
    terminal_fraction: float = 0.25


@torch.no_grad()
def canonical_skeleton(body_model: BodyModel) -> torch.Tensor:
    """The mean-shape rest skeleton (29, 3) every motion is measured on.

    Why one skeleton for everybody: bone lengths would otherwise be most of the variance the VAE
    has to encode, yet IK only needs directions and the base head supplies the person's shape.
    """
    return rest_skeleton(body_model, torch.zeros(1, body_model.num_betas))[0]


@torch.no_grad()
def motion_representation(
    skeleton: torch.Tensor, global_orient: np.ndarray, body_pose: np.ndarray
) -> np.ndarray:
    """Rotations (T,3,3), (T,23,3,3) on a skeleton (29, 3) -> representation (T, 133)."""
    rotations = torch.as_tensor(
        np.concatenate([global_orient[:, None], body_pose], axis=1), dtype=torch.float32
    )
    return pose_to_representation(rotations, skeleton.expand(len(rotations), -1, -1)).numpy()


class WindowSampler:
    """Random augmented windows over aligned per-frame arrays (motion, and features if any)."""

    def __init__(
        self,
        motions: Sequence[np.ndarray],
        window: int,
        settings: TrainSettings,
        features: Sequence[np.ndarray] | None = None,
    ):
        if not motions:
            raise InputError("no training sequences")
        self.motions = [np.asarray(m, dtype=np.float32) for m in motions]
        self.features = None if features is None else [np.asarray(f, dtype=np.float32) for f in features]
        self.window = window
        self.settings = settings
        lengths = np.array([len(m) for m in self.motions], dtype=np.float64)
        self.weights = lengths / lengths.sum()  # sample sequences by length: every frame equally likely
        self.rng = np.random.default_rng(settings.seed)

    def _positions(self, length: int) -> np.ndarray:
        s = self.settings
        if self.rng.random() < s.short_fraction and length >= s.min_history:
            span = int(self.rng.integers(s.min_history, min(self.window, length) + 1))
        else:
            speed = float(np.exp(self.rng.uniform(*np.log(s.speed_range))))
            span = min(length, round((self.window - 1) * speed) + 1)
        start = self.rng.uniform(0, length - span) if length > span else 0.0
        positions = start + np.linspace(0.0, span - 1, self.window)
        return positions[::-1] if self.rng.random() < 0.5 else positions  # time reversal

    @staticmethod
    def _interp(frames: np.ndarray, positions: np.ndarray) -> np.ndarray:
        lo = np.clip(np.floor(positions).astype(int), 0, len(frames) - 1)
        hi = np.clip(lo + 1, 0, len(frames) - 1)
        w = (positions - lo)[:, None]
        return frames[lo] * (1 - w) + frames[hi] * w

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> motion (B, W, 133) and features (B, W, F) or None."""
        motions, feats = [], []
        for index in self.rng.choice(len(self.motions), size=batch_size, p=self.weights):
            positions = self._positions(len(self.motions[index]))
            motions.append(self._interp(self.motions[index], positions))
            if self.features is not None:
                feats.append(self._interp(self.features[index], positions))
        motion = torch.as_tensor(np.stack(motions), dtype=torch.float32)
        return motion, (torch.as_tensor(np.stack(feats), dtype=torch.float32) if feats else None)


def _resume_or_none(out: Path, resume: bool, kind: str) -> dict[str, Any] | None:
    if resume and out.is_file():
        payload = load_checkpoint(out, kind)
        log.info("resuming %s from step %d", out, payload["step"])
        return payload
    return None


def train_vae(
    cfg: DiffusionConfig,
    clips: Sequence[MotionClip],
    body_model: BodyModel,
    out: str | Path,
    settings: TrainSettings,
    resume: bool = False,
) -> MotionVAE:
    """Stage 1 on motion clips (already in the camera frame, at cfg.fps)."""
    out = Path(out)
    torch.manual_seed(settings.seed)
    skeleton = canonical_skeleton(body_model)
    motions = [motion_representation(skeleton, c.global_orient, c.body_pose) for c in clips]
    payload = _resume_or_none(out, resume, KIND_VAE)
    if payload is not None:
        cfg = payload["config"]
    vae = MotionVAE(cfg).to(settings.device)
    if payload is None:
        stacked = np.concatenate(motions)
        vae.rep_mean.copy_(torch.as_tensor(stacked.mean(0)))
        vae.rep_std.copy_(torch.as_tensor(stacked.std(0)).clamp_min(1e-2))
        vae.skeleton.copy_(skeleton)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    step = 0
    if payload is not None:
        vae.load_state_dict(payload["state"]["vae"])
        optimizer.load_state_dict(payload["optimizer"])
        step = payload["step"]
    sampler = WindowSampler(motions, cfg.window, settings)
    sampler.rng = np.random.default_rng(settings.seed + step)
    vae.train()
    bar = tqdm(range(step, settings.steps), initial=step, total=settings.steps, desc="train vae", unit="step")
    for step in bar:
        motion, _ = sampler.sample(settings.batch_size)
        target = vae.normalize(motion.to(settings.device))
        recon, mu, logvar = vae(target)
        rec = ((recon - target) ** 2).mean()
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).mean()
        loss = rec + cfg.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(rec=f"{rec.item():.4f}", kl=f"{kl.item():.2f}")
        if (step + 1) % settings.save_every == 0:
            save_checkpoint(out, KIND_VAE, cfg, {"vae": vae}, step + 1, optimizer)
    vae.eval()
    vae.latent_scale.fill_(1.0 / _latent_std(vae, sampler, settings))
    save_checkpoint(out, KIND_VAE, cfg, {"vae": vae}, settings.steps, optimizer)
    return vae


@torch.no_grad()
def _latent_std(vae: MotionVAE, sampler: WindowSampler, settings: TrainSettings, batches: int = 8) -> float:
    """Spread of the clean latents, so the diffusion stage sees unit-variance targets."""
    mus = [
        vae.encode(vae.normalize(sampler.sample(settings.batch_size)[0].to(settings.device)))[0]
        for _ in range(batches)
    ]
    return float(torch.cat(mus).std().clamp_min(1e-6))


def train_denoiser(
    vae_path: str | Path,
    sequences: Sequence[FeatureSequence],
    out: str | Path,
    settings: TrainSettings,
    resume: bool = False,
) -> DiffusionModel:
    """Stage 2 on labelled feature sequences; the VAE (and its skeleton) stays frozen and ships
    inside the output."""
    out = Path(out)
    torch.manual_seed(settings.seed)
    payload = _resume_or_none(out, resume, KIND_DECODER)
    vae, vae_payload = load_vae(vae_path, map_location=settings.device)
    cfg = payload["config"] if payload is not None else vae_payload["config"]
    dims = {seq.head_token.shape[1] for seq in sequences}
    if len(dims) != 1:
        raise InputError(f"feature sequences mix head-token widths {sorted(dims)}")
    cfg.feature_dim = dims.pop()
    model = DiffusionModel(cfg, vae).to(settings.device)
    model.vae.eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(
        model.denoiser.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    step = 0
    if payload is not None:
        model.denoiser.load_state_dict(payload["state"]["denoiser"])
        optimizer.load_state_dict(payload["optimizer"])
        step = payload["step"]
    motions = [motion_representation(model.vae.skeleton, s.global_orient, s.body_pose) for s in sequences]
    sampler = WindowSampler(motions, cfg.window, settings, [s.head_token for s in sequences])
    sampler.rng = np.random.default_rng(settings.seed + step)
    schedule = model.schedule
    model.denoiser.train()
    modules = {"vae": model.vae, "denoiser": model.denoiser}
    bar = tqdm(
        range(step, settings.steps), initial=step, total=settings.steps, desc="train denoiser", unit="step"
    )
    for step in bar:
        motion, features = sampler.sample(settings.batch_size)
        assert features is not None  # the sampler was given every sequence's head tokens
        motion, features = motion.to(settings.device), features.to(settings.device)
        with torch.no_grad():
            x0 = model.latent_target(motion)
        t = torch.randint(0, schedule.timesteps, (x0.shape[0],), device=settings.device)
        terminal = torch.rand(x0.shape[0], device=settings.device) < settings.terminal_fraction
        t = torch.where(terminal, torch.full_like(t, schedule.timesteps - 1), t)
        noise = torch.randn_like(x0)
        x_t = schedule.add_noise(x0, noise, t)
        loss = schedule.loss(model.denoiser(x_t, t, features), x0, noise, x_t, t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.denoiser.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if (step + 1) % settings.save_every == 0:
            save_checkpoint(out, KIND_DECODER, cfg, modules, step + 1, optimizer)
    model.eval()
    save_checkpoint(out, KIND_DECODER, cfg, modules, settings.steps, optimizer)
    return model
