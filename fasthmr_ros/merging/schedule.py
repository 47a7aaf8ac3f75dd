"""Token-merging schedules: how many tokens each backbone block merges.

A schedule is fixed per model run (not per crop), which is what keeps every crop of a batch at
the same token count. Validation happens once, against the token count and depth of the
backbone, so a bad YAML value fails at start-up with a message instead of mid-stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fasthmr_ros.config import MergingConfig
from fasthmr_ros.errors import FastHMRError

# FastHMR's setting: 40 per layer in the first three layers to a fixed 90 tokens.
PAPER_SCHEDULE: tuple[int, ...] = (40, 40, 22)


class ScheduleError(FastHMRError, ValueError):
    """A token-merging schedule that the backbone cannot run."""


@dataclass(frozen=True)
class TokenSchedule:
    """merges[l] tokens are merged in block l (after its attention); blocks past the end merge none."""

    merges: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        return any(self.merges)

    def at(self, layer: int) -> int:
        return self.merges[layer] if layer < len(self.merges) else 0

    def token_counts(self, num_tokens: int) -> list[int]:
        """Token count entering the MLP of each scheduled block, preceded by the input count."""
        counts = [num_tokens]
        for r in self.merges:
            counts.append(counts[-1] - r)
        return counts

    def final_tokens(self, num_tokens: int) -> int:
        return num_tokens - sum(self.merges)

    def validate(self, num_tokens: int, depth: int) -> TokenSchedule:
        """Raise ScheduleError unless every step merges 0 <= r <= tokens // 2 within the depth."""
        if len(self.merges) > depth:
            raise ScheduleError(
                f"token schedule has {len(self.merges)} layers but the backbone only {depth} blocks"
            )
        tokens = num_tokens
        for layer, r in enumerate(self.merges):
            if r < 0:
                raise ScheduleError(f"token schedule: layer {layer} merges {r} < 0 tokens")
            if r > tokens // 2:
                raise ScheduleError(
                    f"token schedule: layer {layer} merges {r} of {tokens} tokens; bipartite matching "
                    f"allows at most {tokens // 2}"
                )
            tokens -= r
        return self

    @classmethod
    def to_target(cls, num_tokens: int, target: int, layers: int) -> TokenSchedule:
        """Reach `target` tokens in `layers` blocks, merging as evenly as possible (earlier first)."""
        if not 1 <= target <= num_tokens:
            raise ScheduleError(f"target token count {target} must lie in 1..{num_tokens}")
        if layers < 1:
            raise ScheduleError(f"target_layers must be >= 1, got {layers}")
        total = num_tokens - target
        per_layer = math.ceil(total / layers)
        merges: list[int] = []
        tokens = num_tokens
        for _ in range(layers):
            r = min(per_layer, total - sum(merges), tokens // 2)
            merges.append(r)
            tokens -= r
        if tokens != target:
            raise ScheduleError(
                f"cannot go from {num_tokens} to {target} tokens in {layers} layers "
                f"(at most half the tokens merge per layer; {tokens} is the minimum reachable)"
            )
        while merges and merges[-1] == 0:
            merges.pop()
        return cls(tuple(merges))

    @classmethod
    def from_config(cls, cfg: MergingConfig, num_tokens: int, depth: int) -> TokenSchedule:
        """The schedule a MergingConfig describes, validated for this backbone."""
        if cfg.target_tokens is not None:
            schedule = cls.to_target(num_tokens, cfg.target_tokens, cfg.target_layers)
        else:
            schedule = cls(tuple(int(r) for r in cfg.token_schedule))
        return schedule.validate(num_tokens, depth)
