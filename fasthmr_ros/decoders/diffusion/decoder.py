"""The diffusion decoder as a streaming `PoseDecoder` over each track's ring buffer.

Per person and frame: the head tokens of the track's last frames (history + this frame) form a
window; a track with fewer than `window` frames has its frames stretched over the window by linear
interpolation (the paper's resampling of short clips), so the model always sees W tokens. One
denoising step gives the latent, the VAE decodes the window's motion, and the frame of interest is
turned into SMPL rotations by twist-swing IK on the skeleton the model was trained on (stored in
its checkpoint; the person's shape still comes from the base head).

Causal (lookahead 0): the newest frame. Lookahead k: the frame k steps back, which has k future
frames of context: smoother, k frames late; its stamp, camera and shape are in `history[-k]`.
A track with fewer than `min_history` frames (or not more than k) gets the regression pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fasthmr_ros.config import DecoderConfig
from fasthmr_ros.decoders.base import DecoderInput, DecoderOutput
from fasthmr_ros.decoders.diffusion.model import DiffusionModel, load_diffusion_model
from fasthmr_ros.decoders.diffusion.twist_swing import inverse_kinematics, split_representation
from fasthmr_ros.decoders.history import TrackFrame
from fasthmr_ros.errors import InputError


def stretch_to_window(frames: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, ...) -> (window, ...) and the window position (fractional) of each source frame (n,).

    n >= window keeps the newest `window` frames; a shorter track is linearly resampled.
    """
    n = frames.shape[0]
    if n >= window:
        return frames[n - window :], np.arange(n, dtype=np.float64) - (n - window)
    src = np.arange(n, dtype=np.float64)
    dst = np.linspace(0.0, n - 1, window)
    lo = np.clip(np.floor(dst).astype(int), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    w = (dst - lo).reshape(-1, *([1] * (frames.ndim - 1)))
    stretched = frames[lo] * (1 - w) + frames[hi] * w
    return stretched, src * (window - 1) / max(n - 1, 1)


def sample_frame(motion: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """motion (B, W, C) at fractional window positions (B,) -> (B, C), linear in between."""
    lo = position.floor().long().clamp(0, motion.shape[1] - 1)
    hi = (lo + 1).clamp(max=motion.shape[1] - 1)
    w = (position - lo.to(position.dtype))[:, None].to(motion.dtype)
    rows = torch.arange(motion.shape[0], device=motion.device)
    return motion[rows, lo] * (1 - w) + motion[rows, hi] * w


class DiffusionDecoder:
    name = "diffusion"

    def __init__(
        self,
        model: DiffusionModel,
        lookahead: int = 0,
        sample_steps: int = 1,
        min_history: int = 4,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        if lookahead < 0 or lookahead >= model.cfg.window:
            raise InputError(f"lookahead must be in 0..{model.cfg.window - 1}, got {lookahead}")
        if min_history < 2:
            raise InputError("min_history must be >= 2 (one frame has no motion to decode)")
        if sample_steps < 1:
            raise InputError(f"sample_steps must be >= 1, got {sample_steps}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.cfg = model.cfg
        self.lookahead = lookahead
        self.sample_steps = sample_steps
        self.min_history = max(min_history, lookahead + 1)
        # One fixed starting noise for every person and frame (see DiffusionModel.infer).
        generator = torch.Generator().manual_seed(seed)
        self.noise = torch.randn(1, self.cfg.latent_tokens, self.cfg.latent_dim, generator=generator).to(
            self.device
        )

    @property
    def history_frames(self) -> int:
        """Past frames the decoder reads: size the pipeline's ring buffer to at least this."""
        return self.cfg.window - 1

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, cfg: DecoderConfig | None = None, device: str | torch.device = "cpu"
    ) -> DiffusionDecoder:
        cfg = cfg or DecoderConfig()
        model, _ = load_diffusion_model(path, map_location=device)
        return cls(model, cfg.lookahead, cfg.sample_steps, cfg.min_history, device)

    def decode(self, batch: DecoderInput) -> DecoderOutput:
        B = len(batch.track_ids)
        global_orient = batch.global_orient.clone()
        body_pose = batch.body_pose.clone()
        used = ["regression"] * B
        k = self.lookahead
        for i, history in enumerate(batch.histories):
            if k and len(history) >= k:  # fallback keeps the same delay as decoded frames
                global_orient[i, 0] = torch.as_tensor(history[-k].global_orient, dtype=global_orient.dtype)
                body_pose[i] = torch.as_tensor(history[-k].body_pose, dtype=body_pose.dtype)
        active = [i for i, h in enumerate(batch.histories) if len(h) + 1 >= self.min_history]
        if not active:
            return DecoderOutput(global_orient, body_pose, used)
        windows, positions = [], []
        for i in active:
            tokens = self._tokens(batch.histories[i], batch.head_token[i])
            stretched, where = stretch_to_window(tokens, self.cfg.window)
            windows.append(stretched)
            positions.append(where[-1 - k])
        features = torch.as_tensor(np.stack(windows), dtype=torch.float32, device=self.device)
        rotations = self.decode_windows(features, torch.as_tensor(positions, device=self.device))
        for row, i in enumerate(active):
            global_orient[i, 0] = rotations[row, 0].to(global_orient)
            body_pose[i] = rotations[row, 1:].to(body_pose)
            used[i] = self.name
        return DecoderOutput(global_orient, body_pose, used)

    def _tokens(self, history: list[TrackFrame], current: torch.Tensor) -> np.ndarray:
        tokens = [f.head_token for f in history] + [current.detach().cpu().numpy()]
        widths = {np.shape(t)[-1] for t in tokens}
        if widths != {self.cfg.feature_dim}:
            raise InputError(
                f"the diffusion decoder was trained on {self.cfg.feature_dim}-d head tokens, got "
                f"{sorted(widths - {self.cfg.feature_dim})}-d: use the checkpoint trained for this base model"
            )
        return np.stack(tokens).astype(np.float32)

    @torch.no_grad()
    def decode_windows(self, features: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """features (B, W, F), fractional window positions (B,) -> local rotations (B, 24, 3, 3)."""
        motion = self.model.infer(features, self.sample_steps, self.noise)  # (B, W, 133)
        points, twist = split_representation(sample_frame(motion, positions.to(motion.dtype)))
        rest = self.model.vae.skeleton.to(points.dtype).expand(points.shape[0], -1, -1)
        return inverse_kinematics(points, twist, rest)
