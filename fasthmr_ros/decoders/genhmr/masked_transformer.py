"""Image-conditioned masked transformer over pose tokens.

Sequence: one readout token (global orientation) followed by the N pose tokens, each a codebook
index or [MASK]. Every layer: self-attention over the sequence, cross-attention to the image
context, feed-forward (pre-norm, residual). The context is the backbone's tokens (any number:
token merging may have shrunk them) plus, optionally, the regression head's query token, so the
transformer sees what the base head already concluded.
Outputs: logits over the codebook for every pose token, and a 6D global orientation from the
readout token. Shape and camera are left to the base head (documented in docs/genhmr.md).
The forward also accepts continuous input embeddings, which is what refinement optimises.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fasthmr_ros.config import GenHMRTransformerConfig
from fasthmr_ros.models.rotation import rot6d_to_rotmat


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_cross = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.norm_self(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        c = self.norm_ctx(context)
        x = x + self.cross_attn(self.norm_cross(x), c, c, need_weights=False)[0]
        return x + self.ff(self.norm_ff(x))


@dataclass
class TransformerOutput:
    logits: torch.Tensor  # (B, N, K) over the codebook
    global_orient: torch.Tensor  # (B, 1, 3, 3)


class MaskedPoseTransformer(nn.Module):
    def __init__(self, cfg: GenHMRTransformerConfig, num_tokens: int, codebook_size: int):
        super().__init__()
        self.cfg, self.num_tokens, self.codebook_size = cfg, num_tokens, codebook_size
        self.mask_id = codebook_size  # the extra embedding row
        self.token_embed = nn.Embedding(codebook_size + 1, cfg.dim)
        self.readout = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens + 1, cfg.dim) * 0.02)
        self.context_proj = nn.Linear(cfg.context_dim, cfg.dim)
        self.head_token_proj = nn.Linear(cfg.head_token_dim, cfg.dim) if cfg.head_token_dim > 0 else None
        self.layers = nn.ModuleList(
            [_Layer(cfg.dim, cfg.heads, cfg.mlp_dim, cfg.dropout) for _ in range(cfg.depth)]
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.to_logits = nn.Linear(cfg.dim, codebook_size)
        self.to_orient = nn.Linear(cfg.dim, 6)
        with torch.no_grad():  # start at the identity rotation (6D = first two columns of I)
            self.to_orient.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, N) indices (mask_id for [MASK]) -> (B, N, dim) input embeddings."""
        return self.token_embed(indices)

    def context(self, image_tokens: torch.Tensor, head_token: torch.Tensor | None) -> torch.Tensor:
        """(B, M, C) backbone tokens [+ (B, D) head token] -> (B, M[+1], dim)."""
        ctx = self.context_proj(image_tokens.float())
        if self.head_token_proj is not None:
            if head_token is None:
                raise ValueError("this GenHMR model was trained with the head token as context; pass it")
            ctx = torch.cat([ctx, self.head_token_proj(head_token.float())[:, None]], dim=1)
        return ctx

    def forward_embeddings(self, embeddings: torch.Tensor, context: torch.Tensor) -> TransformerOutput:
        """(B, N, dim) input embeddings and a prepared context -> outputs."""
        B = embeddings.shape[0]
        x = torch.cat([self.readout.expand(B, -1, -1), embeddings], dim=1) + self.pos_embed
        for layer in self.layers:
            x = layer(x, context)
        x = self.norm(x)
        return TransformerOutput(self.to_logits(x[:, 1:]), rot6d_to_rotmat(self.to_orient(x[:, :1])))

    def forward(
        self, indices: torch.Tensor, image_tokens: torch.Tensor, head_token: torch.Tensor | None = None
    ) -> TransformerOutput:
        return self.forward_embeddings(self.embed(indices), self.context(image_tokens, head_token))
