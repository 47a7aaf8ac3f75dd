"""Uncertainty-guided iterative decoding of the pose tokens (GenHMR §3, MaskGIT-style).

Start with every token masked. Each iteration predicts all masked tokens, scores each prediction
by its probability (the confidence), keeps the most confident and re-masks the rest, so that
after iteration t (1..T) `round_down(cos(pi/2 * t/T) * N)` tokens stay masked; the last
iteration leaves none. Tokens fixed in an earlier iteration stay fixed (our reading of the
paper; MaskGIT does the same), so later iterations condition on the confident ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from fasthmr_ros.config import GenHMRSamplingConfig
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer

SAMPLING_MODES = ("argmax", "sample")


def masked_count(step: int, iterations: int, num_tokens: int) -> int:
    """How many tokens stay masked after iteration `step` (1-based) of `iterations`."""
    return math.floor(math.cos(math.pi / 2 * step / iterations) * num_tokens + 1e-9)


@dataclass
class SamplingResult:
    indices: torch.Tensor  # (B, N) final tokens
    confidence: torch.Tensor  # (B, N) probability of each token when it was fixed
    global_orient: torch.Tensor  # (B, 1, 3, 3) from the final pass
    masked_counts: list[int] = field(default_factory=list)  # tokens still masked after each iteration


@torch.no_grad()
def uncertainty_guided_sample(
    model: MaskedPoseTransformer,
    image_tokens: torch.Tensor,
    head_token: torch.Tensor | None,
    cfg: GenHMRSamplingConfig,
    generator: torch.Generator | None = None,
) -> SamplingResult:
    if cfg.mode not in SAMPLING_MODES:
        raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {cfg.mode!r}")
    if cfg.iterations < 1:
        raise ValueError("sampling needs at least one iteration")
    B, N = image_tokens.shape[0], model.num_tokens
    device = image_tokens.device
    context = model.context(image_tokens, head_token)
    indices = torch.full((B, N), model.mask_id, dtype=torch.long, device=device)
    confidence = torch.zeros(B, N, device=device)
    masked = torch.ones(B, N, dtype=torch.bool, device=device)
    counts: list[int] = []
    for step in range(1, cfg.iterations + 1):
        out = model.forward_embeddings(model.embed(indices), context)
        probs = torch.softmax(out.logits.float() / max(cfg.temperature, 1e-6), dim=-1)  # (B, N, K)
        if cfg.mode == "argmax":
            chosen = probs.argmax(-1)
        else:
            chosen = torch.multinomial(probs.reshape(B * N, -1), 1, generator=generator).reshape(B, N)
        chosen_conf = probs.gather(-1, chosen[..., None])[..., 0]
        candidates = torch.where(masked, chosen, indices)
        # Fixed tokens rank above every new prediction so they are never re-masked.
        score = torch.where(masked, chosen_conf, torch.full_like(chosen_conf, 2.0))
        keep_masked = masked_count(step, cfg.iterations, N)
        new_mask = torch.zeros_like(masked)
        if keep_masked > 0:
            lowest = score.topk(keep_masked, dim=-1, largest=False).indices
            new_mask.scatter_(1, lowest, True)
        newly_fixed = masked & ~new_mask
        confidence = torch.where(newly_fixed, chosen_conf, confidence)
        indices = torch.where(new_mask, torch.full_like(candidates, model.mask_id), candidates)
        masked = new_mask
        counts.append(int(masked.sum(1).max()))
    # The orientation is read from a pass that sees the complete token sequence.
    final = model.forward_embeddings(model.embed(indices), context)
    return SamplingResult(indices, confidence, final.global_orient, counts)
