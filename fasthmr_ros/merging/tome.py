"""Mask-guided bipartite soft matching (ToMe, Bolya et al. 2023; FastHMR §3.2) on plain tensors.

Everything here is a pure, batched function: a token set (B, N, C) with per-token sizes goes in,
a smaller one with exactly N - r tokens comes out for every crop, so a batch stays one tensor.

Protected (person) tokens are pushed below every background pair in the ranking. With enough
background tokens this is exactly the paper's "-inf similarity": no person token is touched. When a
crop has fewer mergeable background pairs than the schedule asks for, the count still has to be
met, so the remaining merges take, in order: a background token into a person token or a person
token into a background token (most similar first), then person into person. Such merges are
counted in `TokenState.fallback_merges` so callers can see when a mask was too large.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Cosine similarity lies in [-1, 1]; subtracting this per protected side puts every pair that
# touches a person token strictly below every background pair (and person-person pairs lowest).
_PROTECTED_PENALTY = 4.0
_BACKGROUND_FLOOR = -1.0 - 1e-3


@dataclass
class TokenState:
    """A token set in the middle of the backbone.

    x: (B, N, C) token features. size: (B, N) how many original patches each token stands for
    (float, so log(size) feeds proportional attention directly). protected: (B, N) bool, person
    tokens. origin: (B, N) long, the original patch index each token kept its identity from (the
    destination patch of every merge). fallback_merges: (B,) long, merges that had to touch a
    protected token because the crop had too little background.
    """

    x: torch.Tensor
    size: torch.Tensor
    protected: torch.Tensor
    origin: torch.Tensor
    fallback_merges: torch.Tensor

    @classmethod
    def start(cls, x: torch.Tensor, protected: torch.Tensor | None = None) -> TokenState:
        """Unmerged tokens: every size 1; no mask means plain ToMe (nothing protected)."""
        B, N, _ = x.shape
        if protected is None:
            protected = torch.zeros(B, N, dtype=torch.bool, device=x.device)
        elif protected.shape != (B, N):
            raise ValueError(f"person mask has shape {tuple(protected.shape)}, tokens need {(B, N)}")
        return cls(
            x=x,
            size=torch.ones(B, N, dtype=x.dtype, device=x.device),
            protected=protected.to(device=x.device, dtype=torch.bool),
            origin=torch.arange(N, device=x.device).expand(B, N),
            fallback_merges=torch.zeros(B, dtype=torch.long, device=x.device),
        )

    @property
    def num_tokens(self) -> int:
        return self.x.shape[1]


@dataclass
class Matching:
    """Which A tokens (even positions) merge into which B tokens (odd positions).

    src: (B, r) indices into A that merge away; dst: (B, r) their B partners; keep: (B, NA - r)
    the A tokens that stay, in their original order; touches_protected: (B, r) bool.
    """

    src: torch.Tensor
    dst: torch.Tensor
    keep: torch.Tensor
    touches_protected: torch.Tensor


def match(metric: torch.Tensor, r: int, protected: torch.Tensor) -> Matching:
    """Pick the r most similar A->B pairs per crop.

    metric: (B, N, D) per-token key (attention keys averaged over heads); protected: (B, N) bool.
    """
    N = metric.shape[1]
    if not 0 <= r <= N // 2:
        raise ValueError(f"cannot merge {r} of {N} tokens: bipartite matching allows at most {N // 2}")
    metric = metric / metric.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    a, b = metric[:, ::2], metric[:, 1::2]
    scores = a @ b.transpose(1, 2)  # (B, NA, NB) cosine similarity
    penalty_a = protected[:, ::2].to(scores.dtype) * _PROTECTED_PENALTY
    penalty_b = protected[:, 1::2].to(scores.dtype) * _PROTECTED_PENALTY
    scores = scores - penalty_a[:, :, None] - penalty_b[:, None, :]
    best, best_b = scores.max(dim=-1)  # (B, NA): each A token's most similar B token
    order = best.argsort(dim=-1, descending=True)
    src = order[:, :r]
    keep = order[:, r:].sort(dim=-1).values
    dst = best_b.gather(1, src)
    touches = best.gather(1, src) < _BACKGROUND_FLOOR
    return Matching(src=src, dst=dst, keep=keep, touches_protected=touches)


def _take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """t (B, M, ...) gathered along dim 1 with idx (B, K)."""
    if t.dim() == 2:
        return t.gather(1, idx)
    return t.gather(1, idx[..., None].expand(-1, -1, t.shape[-1]))


def merge(state: TokenState, m: Matching) -> TokenState:
    """Apply a matching: size-weighted average into each B token; output [kept A..., all B...].

    The scatter is a product with a one-hot assignment matrix rather than a scatter-add: the same
    sums, but exported as Equal/MatMul, which every ONNX consumer parses (TensorRT's parser before
    10.0 has no ScatterElements with a reduction). Tokens no merge touches are copied bit for bit
    (never recomputed as x*s/s).
    """
    if m.src.shape[1] == 0:
        return state
    x, size = state.x, state.size
    xa, xb = x[:, ::2], x[:, 1::2]
    sa, sb = size[:, ::2], size[:, 1::2]
    assign = assignment_matrix(m.dst, int(xb.shape[1]), x.dtype)  # (B, NB, r)
    src_size = _take(sa, m.src)  # (B, r)
    new_sb = sb + (assign @ src_size[..., None])[..., 0]
    summed = xb * sb[..., None] + assign @ (_take(xa, m.src) * src_size[..., None])
    received = assign.sum(dim=-1) > 0
    new_xb = torch.where(received[..., None], summed / new_sb[..., None], xb)

    pa, pb = state.protected[:, ::2], state.protected[:, 1::2]
    new_pb = pb | ((assign @ _take(pa, m.src).to(x.dtype)[..., None])[..., 0] > 0)
    return TokenState(
        x=torch.cat([_take(xa, m.keep), new_xb], dim=1),
        size=torch.cat([_take(sa, m.keep), new_sb], dim=1),
        protected=torch.cat([_take(pa, m.keep), new_pb], dim=1),
        origin=torch.cat([_take(state.origin[:, ::2], m.keep), state.origin[:, 1::2]], dim=1),
        fallback_merges=state.fallback_merges + m.touches_protected.sum(dim=1),
    )


def assignment_matrix(dst: torch.Tensor, num_dst: int, dtype: torch.dtype) -> torch.Tensor:
    """dst (B, r) destination indices -> (B, num_dst, r) one-hot: [b, j, i] = 1 where dst[b, i] == j.

    `num_dst` is a Python int so an exported graph holds it as a constant (shapes are fixed per
    token schedule).
    """
    targets = torch.arange(num_dst, device=dst.device)
    return (targets[None, :, None] == dst[:, None, :]).to(dtype)


def merge_step(state: TokenState, metric: torch.Tensor, r: int) -> TokenState:
    """One ToMe step: match on `metric` (B, N, D) and merge r tokens per crop."""
    if r == 0:
        return state
    return merge(state, match(metric, r, state.protected))


def proportional_attention_bias(size: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, N) sizes -> (B, 1, 1, N) additive attention-logit bias log(size).

    A token standing for s patches then gets the attention weight of s identical keys.
    """
    return size.log().to(dtype)[:, None, None, :]
