"""2D pose-guided refinement (GenHMR §3): gradient steps on the continuous token embeddings.

The variables are the masked transformer's input embeddings of the sampled tokens. Each step
runs the frozen transformer, turns its token probabilities into soft codebook vectors, decodes
them with the frozen tokenizer decoder, poses SMPL, projects with the base head's crop camera and
compares with the 2D keypoints; a second term keeps the rotations near the sampled pose.

Choices the paper leaves open (docs/genhmr.md):
- The decoded latents are `code[sampled] + soft(e) - soft(e0)`: at step 0 the pose is exactly the
  sampled one (a soft mixture alone would not be), and gradients still flow through the
  transformer. The global orientation is the transformer's readout, so it is refined too.
- Every rotation leaves Gram-Schmidt, so the result is always a valid SMPL pose.
- Each person keeps its lowest-loss iterate, so refinement never returns a pose that fits the
  objective worse than the sampled one; a per-frame time budget cuts the remaining steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from fasthmr_ros.config import GenHMRRefinementConfig
from fasthmr_ros.decoders.genhmr.keypoints import (
    COCO17_WEIGHTS,
    CROP_SIZE,
    check_coco17,
    coco17_joint_index,
    project_to_crop,
)
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.skeleton import full_body_pose
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer
from fasthmr_ros.models.body_model import BodyModel


@dataclass
class RefinementResult:
    global_orient: torch.Tensor  # (B, 1, 3, 3)
    body_pose: torch.Tensor  # (B, 23, 3, 3)
    reprojection_before_px: torch.Tensor  # (B,) mean 2D error of the sampled pose, 256-pixel crop
    reprojection_after_px: torch.Tensor  # (B,)
    steps_done: int
    elapsed_ms: float


class _Objective:
    """The refinement loss for one batch, with everything that stays fixed precomputed."""

    def __init__(
        self,
        body_model: BodyModel,
        betas: torch.Tensor,
        pred_cam: torch.Tensor,
        keypoints2d: torch.Tensor,
        cfg: GenHMRRefinementConfig,
    ) -> None:
        check_coco17(keypoints2d)
        self.body_model, self.cfg = body_model, cfg
        self.betas, self.pred_cam = betas.float(), pred_cam.float()
        self.joint_index = coco17_joint_index(body_model.joint_set).to(keypoints2d.device)
        conf = keypoints2d[..., 2].float()
        conf = torch.where(conf >= cfg.min_keypoint_confidence, conf, torch.zeros_like(conf))
        self.weight = conf * torch.tensor(COCO17_WEIGHTS, device=conf.device)  # (B, 17)
        self.target = keypoints2d[..., :2].float()

    def reprojection(self, global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
        """(B,) weighted mean squared 2D error in crop units ([-1, 1])."""
        joints = self.body_model(global_orient, body_pose, self.betas).joints[:, self.joint_index]
        sq = (project_to_crop(joints, self.pred_cam) - self.target).pow(2).sum(-1)  # (B, 17)
        return (self.weight * sq).sum(1) / self.weight.sum(1).clamp_min(1e-6)

    def reprojection_px(self, global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
        """(B,) weighted mean Euclidean 2D error in pixels of a 256 crop (for reports)."""
        joints = self.body_model(global_orient, body_pose, self.betas).joints[:, self.joint_index]
        dist = (project_to_crop(joints, self.pred_cam) - self.target).norm(dim=-1) * CROP_SIZE / 2
        return (self.weight * dist).sum(1) / self.weight.sum(1).clamp_min(1e-6)


def refine(
    model: MaskedPoseTransformer,
    tokenizer: PoseTokenizer,
    body_model: BodyModel,
    indices: torch.Tensor,
    image_tokens: torch.Tensor,
    head_token: torch.Tensor | None,
    betas: torch.Tensor,
    pred_cam: torch.Tensor,
    keypoints2d: torch.Tensor,
    cfg: GenHMRRefinementConfig,
) -> RefinementResult:
    """indices (B, N) sampled tokens; keypoints2d (B, 17, 3) COCO-17 in crop units -> refined pose.

    Runs with autograd on even when called under `no_grad`/`inference_mode` (callers often are).
    """
    with torch.inference_mode(False), torch.enable_grad():
        return _refine(
            model,
            tokenizer,
            body_model,
            _autograd_ready(indices),
            _autograd_ready(image_tokens),
            None if head_token is None else _autograd_ready(head_token),
            _autograd_ready(betas),
            _autograd_ready(pred_cam),
            _autograd_ready(keypoints2d),
            cfg,
        )


def _autograd_ready(t: torch.Tensor) -> torch.Tensor:
    """A tensor autograd may record: inference tensors cannot take part in a backward pass."""
    return t.clone() if t.is_inference() else t


def _refine(
    model: MaskedPoseTransformer,
    tokenizer: PoseTokenizer,
    body_model: BodyModel,
    indices: torch.Tensor,
    image_tokens: torch.Tensor,
    head_token: torch.Tensor | None,
    betas: torch.Tensor,
    pred_cam: torch.Tensor,
    keypoints2d: torch.Tensor,
    cfg: GenHMRRefinementConfig,
) -> RefinementResult:
    start = time.perf_counter()
    objective = _Objective(body_model, betas, pred_cam, keypoints2d, cfg)
    codes = tokenizer.codebook.embed  # (K, code_dim)
    with torch.no_grad():
        context = model.context(image_tokens, head_token)
        e0 = model.embed(indices)
        soft0 = torch.softmax(model.forward_embeddings(e0, context).logits / cfg.soft_temperature, -1) @ codes
        hard = tokenizer.codebook.lookup(indices)
        body0 = full_body_pose(tokenizer.decode_latents(hard)[0])
    embeddings = e0.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([embeddings], lr=cfg.lr)

    best_loss = torch.full((indices.shape[0],), float("inf"), device=indices.device)
    best_orient = best_body = orient0 = None
    steps_done = 0
    for step in range(cfg.steps + 1):
        out = model.forward_embeddings(embeddings, context)
        soft = torch.softmax(out.logits / cfg.soft_temperature, -1) @ codes
        body = full_body_pose(tokenizer.decode_latents(hard + soft - soft0)[0])
        orient = out.global_orient
        if orient0 is None:
            orient0 = orient.detach()
        loss = (
            cfg.reprojection_weight * objective.reprojection(orient, body)
            + cfg.prior_weight
            * ((body - body0).pow(2).sum((1, 2, 3)) + (orient - orient0).pow(2).sum((1, 2, 3)))
            + cfg.embedding_weight * (embeddings - e0).pow(2).mean((1, 2))
        )  # (B,)
        with torch.no_grad():
            better = loss < best_loss
            best_loss = torch.where(better, loss, best_loss)
            best_orient = _where(better, orient, best_orient)
            best_body = _where(better, body, best_body)
        out_of_time = cfg.time_budget_ms > 0 and (time.perf_counter() - start) * 1e3 > cfg.time_budget_ms
        if step == cfg.steps or out_of_time:
            break
        optimiser.zero_grad(set_to_none=True)
        loss.sum().backward(inputs=[embeddings])  # no gradients into the frozen weights
        optimiser.step()
        steps_done += 1
    assert orient0 is not None and best_orient is not None and best_body is not None  # ran once at least
    with torch.no_grad():
        before = objective.reprojection_px(orient0, body0)
        after = objective.reprojection_px(best_orient, best_body)
    return RefinementResult(
        best_orient, best_body, before, after, steps_done, (time.perf_counter() - start) * 1e3
    )


def _where(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor | None) -> torch.Tensor:
    new = new.detach()
    if old is None:
        return new.clone()
    return torch.where(mask.view(-1, *([1] * (new.ndim - 1))), new, old)
