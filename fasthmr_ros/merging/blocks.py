"""Running ViT blocks with Mask-ToMe: the merge step between attention and MLP.

The blocks themselves stay untouched (official key names, their own fast forward for the
unmerged path); this module reuses their submodules (`norm1`, `attn.qkv_heads`, `attn.scale`,
`attn.proj`, `norm2`, `mlp`) to run the merged forward, which needs two things a plain block
does not expose: the attention keys (the merge metric) and an additive log(size) term on the
attention logits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol

import torch
import torch.nn.functional as F

from fasthmr_ros.merging.schedule import TokenSchedule
from fasthmr_ros.merging.tome import TokenState, merge_step, proportional_attention_bias


class MergeableAttention(Protocol):
    """What the merged forward reads of a block's attention (`models.vit.Attention`)."""

    @property
    def scale(self) -> float: ...

    @property
    def proj(self) -> Callable[[torch.Tensor], torch.Tensor]: ...

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...


class MergeableBlock(Protocol):
    """What the merged forward reads of a pre-norm block (`models.vit.Block`)."""

    @property
    def norm1(self) -> Callable[[torch.Tensor], torch.Tensor]: ...

    @property
    def attn(self) -> MergeableAttention: ...

    @property
    def norm2(self) -> Callable[[torch.Tensor], torch.Tensor]: ...

    @property
    def mlp(self) -> Callable[[torch.Tensor], torch.Tensor]: ...


def attention_with_keys(
    attn: MergeableAttention, x: torch.Tensor, size: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The block's multi-head self-attention plus log(size) on the logits (proportional attention).

    x: (B, N, C), size: (B, N) -> (attention output (B, N, C), keys averaged over heads (B, N, C/h)).
    """
    B, N, C = x.shape
    q, k, v = attn.qkv_heads(x)
    bias = proportional_attention_bias(size, q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=attn.scale)
    return attn.proj(out.transpose(1, 2).reshape(B, N, C)), k.mean(dim=1)


def merging_block_forward(block: MergeableBlock, state: TokenState, r: int) -> TokenState:
    """x + attn(norm1 x) with log(size) logits, merge r tokens, then + mlp(norm2 x)."""
    attn_out, keys = attention_with_keys(block.attn, block.norm1(state.x), state.size)
    state = merge_step(replace(state, x=state.x + attn_out), keys, r)
    return replace(state, x=state.x + block.mlp(block.norm2(state.x)))


def run_blocks(
    blocks: Iterable[MergeableBlock],
    x: torch.Tensor,
    schedule: TokenSchedule,
    person_mask: torch.Tensor | None = None,
) -> TokenState:
    """Run every block on tokens x (B, N, C), merging per `schedule`; person_mask (B, N) bool."""
    state = TokenState.start(x, person_mask)
    for layer, block in enumerate(blocks):
        state = merging_block_forward(block, state, schedule.at(layer))
    return state
