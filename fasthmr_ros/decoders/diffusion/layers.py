"""A plain pre-norm transformer block shared by the VAE and the denoiser.

Written out rather than `nn.TransformerEncoderLayer` so that MAC counting sees every matmul
(PyTorch's fused inference fast path hides them from `FlopCounterMode`) and ONNX export stays simple.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, dim)
        B, N, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, dropout_p=self.drop.p if self.training else 0.0)
        x = x + self.drop(self.proj(attn.transpose(1, 2).reshape(B, N, C)))
        return x + self.drop(self.mlp(self.norm2(x)))


def learned_positions(count: int, dim: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(1, count, dim) * 0.02)
