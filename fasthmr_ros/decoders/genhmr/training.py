"""Training loops for the pose tokenizer and the masked transformer (tensor in, model out).

The CLI modules read the files; these functions only see tensors, so tests train CI-sized
models on synthetic data with exactly the code a user runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from fasthmr_ros.config import GenHMRSamplingConfig, GenHMRTokenizerConfig, GenHMRTransformerConfig
from fasthmr_ros.decoders.data import FeatureSequence
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.sampling import uncertainty_guided_sample
from fasthmr_ros.decoders.genhmr.skeleton import RestSkeleton
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer, tokenizer_loss
from fasthmr_ros.errors import InputError


@dataclass
class TrainSettings:
    steps: int = 20000
    batch_size: int = 256
    lr: float = 2e-4
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 1000
    progress: bool = True
    device: str = "cpu"


def geodesic_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) x2 -> (...) rotation angle of a^T b in degrees."""
    rel = a.transpose(-1, -2) @ b
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


@torch.no_grad()
def evaluate_tokenizer(
    tokenizer: PoseTokenizer, poses: torch.Tensor, skeleton: RestSkeleton | None, batch_size: int = 1024
) -> dict[str, float]:
    """Round trip pose -> tokens -> pose. MPJPE (mm, 24 root-relative joints at the template shape)
    needs a skeleton; the mean joint-rotation error (degrees) does not."""
    was_training = tokenizer.training
    tokenizer.eval()
    mpjpe, angle, count = 0.0, 0.0, 0
    for chunk in poses.split(batch_size):
        recon = tokenizer.decode(tokenizer.encode(chunk))
        angle += float(geodesic_deg(recon, chunk).mean(1).sum())
        if skeleton is not None:
            mpjpe += float((skeleton(recon) - skeleton(chunk)).norm(dim=-1).mean(1).sum()) * 1000
        count += chunk.shape[0]
    tokenizer.train(was_training)
    metrics = {"rotation_error_deg": angle / max(count, 1), "codebook_usage": tokenizer.codebook.usage()}
    if skeleton is not None:
        metrics["mpjpe_mm"] = mpjpe / max(count, 1)
    return metrics


def train_tokenizer(
    train_poses: torch.Tensor,
    val_poses: torch.Tensor,
    cfg: GenHMRTokenizerConfig,
    settings: TrainSettings,
    skeleton: RestSkeleton | None = None,
    tokenizer: PoseTokenizer | None = None,
) -> tuple[PoseTokenizer, dict[str, float]]:
    """poses (M, 21, 3, 3) body-joint rotations -> trained tokenizer and its validation metrics."""
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    tokenizer = (tokenizer or PoseTokenizer(cfg)).to(device)
    skeleton = skeleton.to(device) if skeleton is not None else None
    val_poses = val_poses.to(device)
    tokenizer.train()
    optimiser = torch.optim.AdamW(tokenizer.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_cosine(settings.steps))
    bar = tqdm(range(settings.steps), desc="tokenizer", disable=not settings.progress)
    metrics: dict[str, float] = {}
    for step in bar:
        batch = train_poses[torch.randint(0, train_poses.shape[0], (settings.batch_size,))].to(device)
        losses = tokenizer_loss(tokenizer(batch), batch, cfg, skeleton)
        optimiser.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimiser.step()
        schedule.step()
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            metrics = evaluate_tokenizer(tokenizer, val_poses, skeleton)
            bar.set_postfix(
                loss=f"{losses['total'].item():.4f}", **{k: f"{v:.2f}" for k, v in metrics.items()}
            )
    return tokenizer, metrics


@dataclass
class FrameSet:
    """Labelled frames, flattened over sequences (what the masked transformer trains on)."""

    image_tokens: torch.Tensor  # (F, M, C) float16
    head_token: torch.Tensor  # (F, D)
    global_orient: torch.Tensor  # (F, 1, 3, 3)
    body_pose: torch.Tensor  # (F, 23, 3, 3)

    def __len__(self) -> int:
        return self.image_tokens.shape[0]

    def to(self, device: torch.device | str) -> FrameSet:
        return FrameSet(
            *(t.to(device) for t in (self.image_tokens, self.head_token, self.global_orient, self.body_pose))
        )


def masked_token_loss(
    model: MaskedPoseTransformer,
    targets: torch.Tensor,
    frames: FrameSet,
    idx: torch.Tensor,
    orient_weight: float,
) -> dict[str, torch.Tensor]:
    """Mask a cosine-distributed fraction of each frame's tokens; cross-entropy on the masked ones
    (the MaskGIT objective that matches the sampling schedule) + global orientation regression."""
    B, N = targets.shape
    device = targets.device
    ratio = torch.cos(math.pi / 2 * torch.rand(B, device=device))
    num_masked = (ratio * N).ceil().clamp(1, N)  # (B,)
    rank = torch.rand(B, N, device=device).argsort(1).argsort(1)  # a random permutation rank per token
    mask = rank < num_masked[:, None]
    inputs = torch.where(mask, torch.full_like(targets, model.mask_id), targets)
    head = frames.head_token[idx] if model.head_token_proj is not None else None
    out = model(inputs, frames.image_tokens[idx], head)
    ce = F.cross_entropy(out.logits[mask], targets[mask])
    orient = F.mse_loss(out.global_orient, frames.global_orient[idx].float())
    return {"ce": ce, "orient": orient_weight * orient, "total": ce + orient_weight * orient}


@torch.no_grad()
def evaluate_genhmr(
    model: MaskedPoseTransformer,
    tokenizer: PoseTokenizer,
    frames: FrameSet,
    skeleton: RestSkeleton | None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Decode every frame by argmax sampling; errors against the ground truth."""
    was_training = model.training
    model.eval()
    sampling = GenHMRSamplingConfig(mode="argmax")
    sums = {"token_accuracy": 0.0, "orient_error_deg": 0.0, "pose_error_deg": 0.0, "mpjpe_mm": 0.0}
    for idx in torch.arange(len(frames), device=frames.body_pose.device).split(batch_size):
        head = frames.head_token[idx] if model.head_token_proj is not None else None
        result = uncertainty_guided_sample(model, frames.image_tokens[idx], head, sampling)
        gt_body = frames.body_pose[idx, :21].float()
        body = tokenizer.decode(result.indices)
        sums["token_accuracy"] += float((result.indices == tokenizer.encode(gt_body)).float().mean(1).sum())
        sums["orient_error_deg"] += float(
            geodesic_deg(result.global_orient, frames.global_orient[idx].float()).sum()
        )
        sums["pose_error_deg"] += float(geodesic_deg(body, gt_body).mean(1).sum())
        if skeleton is not None:
            sums["mpjpe_mm"] += float((skeleton(body) - skeleton(gt_body)).norm(dim=-1).mean(1).sum()) * 1000
    model.train(was_training)
    if skeleton is None:
        del sums["mpjpe_mm"]
    return {k: v / max(len(frames), 1) for k, v in sums.items()}


def train_genhmr(
    train: FrameSet,
    val: FrameSet,
    tokenizer: PoseTokenizer,
    cfg: GenHMRTransformerConfig,
    settings: TrainSettings,
    skeleton: RestSkeleton | None = None,
    model: MaskedPoseTransformer | None = None,
) -> tuple[MaskedPoseTransformer, dict[str, float]]:
    """Train the masked transformer against the frozen tokenizer's tokens of the ground-truth pose."""
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    train, val = train.to(device), val.to(device)
    skeleton = skeleton.to(device) if skeleton is not None else None
    tokenizer.to(device).eval().requires_grad_(False)
    with torch.no_grad():
        targets = torch.cat([tokenizer.encode(p[:, :21].float()) for p in train.body_pose.split(1024)])
    model = (model or MaskedPoseTransformer(cfg, tokenizer.cfg.num_tokens, tokenizer.cfg.codebook_size)).to(
        device
    )
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_cosine(settings.steps))
    bar = tqdm(range(settings.steps), desc="genhmr", disable=not settings.progress)
    metrics: dict[str, float] = {}
    for step in bar:
        idx = torch.randint(0, len(train), (settings.batch_size,), device=device)
        losses = masked_token_loss(model, targets[idx], train, idx, cfg.orient_weight)
        optimiser.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            metrics = evaluate_genhmr(model, tokenizer, val, skeleton)
            bar.set_postfix(
                loss=f"{losses['total'].item():.3f}", **{k: f"{v:.2f}" for k, v in metrics.items()}
            )
    return model, metrics


def _warmup_cosine(total: int, warmup_fraction: float = 0.05) -> Callable[[int], float]:
    warmup = max(1, int(total * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return factor


def frames_from_sequences(sequences: list[FeatureSequence]) -> FrameSet:
    """Flatten labelled feature sequences (docs/decoders.md layout b) into frames.

    The masked transformer is a per-frame model, so sequence boundaries do not matter here.
    """
    image_tokens = [s.image_tokens for s in sequences if s.image_tokens is not None]
    if len(image_tokens) < len(sequences):
        missing = [s.name or str(i) for i, s in enumerate(sequences) if s.image_tokens is None]
        raise InputError(
            f"GenHMR trains on backbone image tokens, which these sequences lack: {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; write them with image tokens (fasthmr extract-features)"
        )
    widths = {t.shape[1:] for t in image_tokens}
    if len(widths) != 1:
        raise InputError(f"all sequences need the same image-token shape (N, C); found {sorted(widths)}")

    def cat(arrays: list[np.ndarray], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.cat([torch.as_tensor(a).to(dtype) for a in arrays])

    return FrameSet(
        image_tokens=cat(image_tokens, torch.float16),
        head_token=cat([s.head_token for s in sequences]),
        global_orient=cat([s.global_orient for s in sequences])[:, None],
        body_pose=cat([s.body_pose for s in sequences]),
    )


def add_synthetic_image_tokens(
    sequences: list[FeatureSequence], num_tokens: int = 16, dim: int = 64, seed: int = 0
) -> list[FeatureSequence]:
    """Give synthetic sequences (which carry only a head token) image tokens to attend to.

    Each frame's tokens are a fixed random linear map of the ground-truth pose plus noise, so a
    model can only read the pose from them by learning, as from a real backbone.
    """
    rng = np.random.default_rng(seed)
    width = 24 * 6
    proj = rng.normal(size=(width, num_tokens * dim)).astype(np.float32) / np.sqrt(width)
    out = []
    for seq in sequences:
        rot = np.concatenate([seq.global_orient[:, None], seq.body_pose], axis=1)  # (T, 24, 3, 3)
        pose6d = np.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1).reshape(len(seq), width)
        tokens = (pose6d @ proj).reshape(len(seq), num_tokens, dim)
        tokens += rng.normal(scale=0.1, size=tokens.shape).astype(np.float32)
        out.append(dataclasses.replace(seq, image_tokens=tokens.astype(np.float16)))
    return out
