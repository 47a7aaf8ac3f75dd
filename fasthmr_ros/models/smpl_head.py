"""HMR 2.0's SMPL head: a transformer decoder with one query token that cross-attends to the
image tokens (docs/model.md), and CameraHMR's CLIFF-style variant.

The context (image tokens) gets no positional embedding, so the head accepts any number of
tokens: this is what lets token merging feed it directly.
"""

from __future__ import annotations

import torch
from torch import nn

from fasthmr_ros.config import HeadConfig
from fasthmr_ros.models.rotation import rot6d_to_rotmat


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x), **kwargs)


def _split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    B, N, _ = t.shape
    return t.reshape(B, N, heads, -1).transpose(1, 2)


def _merge_heads(t: torch.Tensor) -> torch.Tensor:
    B, H, N, D = t.shape
    return t.transpose(1, 2).reshape(B, N, H * D)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (_split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        return self.to_out(_merge_heads(nn.functional.scaled_dot_product_attention(q, k, v)))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(context_dim, inner * 2, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, context_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """context_bias: optional (B, 1, 1, N) logits bias (log token sizes after merging)."""
        q = _split_heads(self.to_q(x), self.heads)
        k, v = (_split_heads(t, self.heads) for t in self.to_kv(context).chunk(2, dim=-1))
        out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=context_bias)
        return self.to_out(_merge_heads(out))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        # Indices 0 and 3 hold the weights, as in the official Sequential (Linear, GELU, Dropout, Linear).
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttnTransformer(nn.Module):
    def __init__(self, cfg: HeadConfig, context_dim: int) -> None:
        super().__init__()
        eps = cfg.norm_eps
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(cfg.dim, SelfAttention(cfg.dim, cfg.heads, cfg.dim_head), eps),
                    PreNorm(cfg.dim, CrossAttention(cfg.dim, cfg.heads, cfg.dim_head, context_dim), eps),
                    PreNorm(cfg.dim, FeedForward(cfg.dim, cfg.mlp_dim), eps),
                ]
            )
            for _ in range(cfg.depth)
        )

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, context_bias: torch.Tensor | None
    ) -> torch.Tensor:
        for layer in self.layers:
            assert isinstance(layer, nn.ModuleList)  # (self-attention, cross-attention, feed-forward)
            self_attn, cross_attn, ff = layer
            x = self_attn(x) + x
            x = cross_attn(x, context=context, context_bias=context_bias) + x
            x = ff(x) + x
        return x


class TransformerDecoder(nn.Module):
    def __init__(self, cfg: HeadConfig, token_dim: int, context_dim: int) -> None:
        super().__init__()
        self.to_token_embedding = nn.Linear(token_dim, cfg.dim)
        self.pos_embedding = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.transformer = CrossAttnTransformer(cfg, context_dim)

    def forward(
        self, token: torch.Tensor, context: torch.Tensor, context_bias: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.to_token_embedding(token) + self.pos_embedding
        return self.transformer(x, context, context_bias)


class SMPLHead(nn.Module):
    """Image tokens (B, N, C) -> SMPL rotations, betas, crop camera (one IEF iteration)."""

    init_body_pose: torch.Tensor  # buffers, registered in __init__
    init_betas: torch.Tensor
    init_cam: torch.Tensor

    def __init__(self, cfg: HeadConfig, context_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        npose = 6 * (cfg.num_body_joints + 1)
        token_dim = 1 if cfg.kind == "hmr2" else 3 + npose + cfg.num_betas + 3
        if cfg.kind not in ("hmr2", "camerahmr"):
            raise ValueError(f"unknown head kind {cfg.kind!r} (hmr2 | camerahmr)")
        self.transformer = TransformerDecoder(cfg, token_dim, context_dim)
        self.decpose = nn.Linear(cfg.dim, npose)
        self.decshape = nn.Linear(cfg.dim, cfg.num_betas)
        self.deccam = nn.Linear(cfg.dim, 3)
        if cfg.kind == "camerahmr":
            self.deckp = nn.Linear(cfg.dim, 2 * cfg.num_keypoints_2d)
        # Mean parameters (smpl_mean_params.npz); official checkpoints carry them as buffers.
        self.register_buffer("init_body_pose", torch.zeros(1, npose))
        self.register_buffer("init_betas", torch.zeros(1, cfg.num_betas))
        self.register_buffer("init_cam", torch.tensor([[0.9, 0.0, 0.0]]))

    def query_token(self, batch: int, bbox_info: torch.Tensor | None) -> torch.Tensor:
        if self.cfg.kind == "hmr2":
            return self.init_cam.new_zeros(batch, 1, 1)
        if bbox_info is None:
            raise ValueError("a CameraHMR head needs bbox_info (B, 3) = [(cx-W/2)/f, (cy-H/2)/f, b/f]")
        means = (self.init_body_pose, self.init_betas, self.init_cam)
        return torch.cat([bbox_info, *(m.expand(batch, -1) for m in means)], dim=1)[:, None, :]

    def forward(
        self,
        tokens: torch.Tensor,
        bbox_info: torch.Tensor | None = None,
        token_sizes: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """tokens (B, N, C); token_sizes (B, N) after token merging adds log-size bias."""
        B = tokens.shape[0]
        bias = None
        if token_sizes is not None:
            bias = token_sizes.log()[:, None, None, :].to(tokens.dtype)
        token_out = self.transformer(self.query_token(B, bbox_info), tokens, bias)[:, 0]  # (B, dim)
        pose6d = self.decpose(token_out) + self.init_body_pose
        rotmats = rot6d_to_rotmat(pose6d.reshape(B, -1, 6))  # (B, 24, 3, 3)
        out = {
            "global_orient": rotmats[:, :1],
            "body_pose": rotmats[:, 1:],
            "betas": self.decshape(token_out) + self.init_betas,
            "pred_cam": self.deccam(token_out) + self.init_cam,
            "pose_6d": pose6d,
            "head_token": token_out,
        }
        if self.cfg.kind == "camerahmr":
            out["keypoints_2d"] = self.deckp(token_out).reshape(B, -1, 2)
        return out
