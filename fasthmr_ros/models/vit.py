"""ViTPose-H backbone as HMR 2.0 uses it (docs/model.md), with the official parameter names
so official checkpoints load without renaming.

The blocks are plain pre-norm transformer blocks; token merging (Mask-ToMe) hooks in between
attention and MLP, which is why attention and MLP are separate submodules here.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from fasthmr_ros.config import BackboneConfig
from fasthmr_ros.merging.blocks import run_blocks
from fasthmr_ros.merging.schedule import TokenSchedule


def sincos_positions(grid: tuple[int, int], dim: int) -> torch.Tensor:
    """(rows * cols, dim) fixed 2D sine-cosine positions: half the channels encode the row, half
    the column, each as sin/cos at dim/4 geometric frequencies (values in [-1, 1])."""
    if dim % 4:
        raise ValueError(f"sine-cosine positions need a width divisible by 4, got {dim}")
    freqs = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))  # (dim/4,)
    rows, cols = torch.meshgrid(
        torch.arange(grid[0], dtype=torch.float32), torch.arange(grid[1], dtype=torch.float32), indexing="ij"
    )

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * freqs  # (N, dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(rows), encode(cols)], dim=1)


class PatchEmbed(nn.Module):
    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            3, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size, padding=cfg.patch_padding
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, N, C) tokens in row-major patch order."""
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, N, C) -> q, k, v each (B, heads, N, C/heads)."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        """attn_bias: optional additive logits bias broadcastable to (B, heads, N, N)."""
        B, N, C = x.shape
        q, k, v = self.qkv_heads(x)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=self.scale)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.attn = Attention(dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Input (B, 3, 256, 192) -> tokens (B, 192, C) after `last_norm` (no class token)."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        grid = self.grid_size
        # One extra slot that HMR 2.0 folds into every token (there is no class token).
        self.pos_embed = nn.Parameter(torch.zeros(1, grid[0] * grid[1] + 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.last_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        # Mask-ToMe: inference-time setting, no parameters; inactive = the plain block loop.
        self.token_schedule = TokenSchedule()

    def init_positions(self) -> None:
        """Start the position embedding at 2D sine-cosine positions. Official checkpoints bring
        learned positions; a backbone trained from scratch needs this instead of the zeros, or
        its tokens carry almost no position and it sees a bag of patches (pose is then lost)."""
        with torch.no_grad():
            self.pos_embed.zero_()
            self.pos_embed[0, 1:] = sincos_positions(self.grid_size, self.cfg.embed_dim)

    def set_token_schedule(self, schedule: TokenSchedule) -> None:
        """Merge tokens per `schedule` from now on (validated against this backbone)."""
        grid = self.grid_size
        self.token_schedule = schedule.validate(grid[0] * grid[1], len(self.blocks))

    def block_list(self) -> list[Block]:
        """The blocks as what they are (a ModuleList hands them out as plain `nn.Module`s)."""
        return [cast(Block, block) for block in self.blocks]

    @property
    def grid_size(self) -> tuple[int, int]:
        c = self.cfg

        def side(n: int) -> int:
            return (n + 2 * c.patch_padding - c.patch_size) // c.patch_size + 1

        return side(c.img_height), side(c.img_width)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding plus positions: (B, 3, H, W) -> (B, N, C)."""
        return self.patch_embed(x) + self.pos_embed[:, 1:] + self.pos_embed[:, :1]

    def forward(self, x: torch.Tensor, person_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, H, W) -> (B, N', C) tokens; N' = N unless a token schedule is set."""
        return self.forward_tokens(x, person_mask)[0]

    def forward_tokens(
        self, x: torch.Tensor, person_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens and, when merging, their sizes (B, N') in patches (for proportional attention).

        person_mask: optional (B, N) bool person patches, protected when tokens merge.
        """
        x = self.embed(x)
        if not self.token_schedule.active:
            for blk in self.blocks:
                x = blk(x)
            return self.last_norm(x), None
        state = run_blocks(self.block_list(), x, self.token_schedule, person_mask)
        return self.last_norm(state.x), state.size
