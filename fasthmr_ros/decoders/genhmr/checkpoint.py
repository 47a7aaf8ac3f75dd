"""Save and load GenHMR checkpoints with their architecture embedded.

A checkpoint is a plain dict of tensors, strings and numbers, so it loads with
`torch.load(weights_only=True)` (no pickled code runs). A GenHMR checkpoint also carries its
tokenizer, so one file is enough to run the decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fasthmr_ros.config import GenHMRTokenizerConfig, GenHMRTransformerConfig, from_dict, to_dict
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer
from fasthmr_ros.errors import CheckpointError, MissingFileError

TOKENIZER_KIND = "genhmr_tokenizer"
GENHMR_KIND = "genhmr"
FORMAT_VERSION = 1


def save_tokenizer(path: str | Path, tokenizer: PoseTokenizer, metrics: dict[str, Any] | None = None) -> None:
    _save(path, {
        "kind": TOKENIZER_KIND,
        "version": FORMAT_VERSION,
        "tokenizer_config": to_dict(tokenizer.cfg),
        "tokenizer_state": tokenizer.state_dict(),
        "metrics": dict(metrics or {}),
    })  # fmt: skip


def load_tokenizer(path: str | Path, map_location: str | torch.device = "cpu") -> PoseTokenizer:
    """A tokenizer from a tokenizer checkpoint or from a full GenHMR checkpoint."""
    data = _load(path, (TOKENIZER_KIND, GENHMR_KIND), map_location)
    return _build_tokenizer(path, data)


def save_genhmr(
    path: str | Path,
    tokenizer: PoseTokenizer,
    transformer: MaskedPoseTransformer,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """`extra` holds training state (optimiser, step) for resuming; the decoder ignores it."""
    _save(path, {
        "kind": GENHMR_KIND,
        "version": FORMAT_VERSION,
        "tokenizer_config": to_dict(tokenizer.cfg),
        "tokenizer_state": tokenizer.state_dict(),
        "transformer_config": to_dict(transformer.cfg),
        "transformer_state": transformer.state_dict(),
        "metrics": dict(metrics or {}),
        "extra": dict(extra or {}),
    })  # fmt: skip


def load_genhmr(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[PoseTokenizer, MaskedPoseTransformer, dict[str, Any]]:
    """-> (tokenizer, transformer, the raw checkpoint dict for metrics/extra)."""
    data = _load(path, (GENHMR_KIND,), map_location)
    tokenizer = _build_tokenizer(path, data)
    try:
        cfg = from_dict(GenHMRTransformerConfig, data["transformer_config"])
        transformer = MaskedPoseTransformer(cfg, tokenizer.cfg.num_tokens, tokenizer.cfg.codebook_size)
        transformer.load_state_dict(data["transformer_state"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the masked transformer does not load ({exc})") from exc
    return tokenizer, transformer, data


def _build_tokenizer(path: str | Path, data: dict[str, Any]) -> PoseTokenizer:
    try:
        tokenizer = PoseTokenizer(from_dict(GenHMRTokenizerConfig, data["tokenizer_config"]))
        tokenizer.load_state_dict(data["tokenizer_state"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the pose tokenizer does not load ({exc})") from exc
    return tokenizer


def _save(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a truncated checkpoint


def _load(path: str | Path, kinds: tuple[str, ...], map_location: str | torch.device) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"GenHMR checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign or corrupt file
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc})") from exc
    if not isinstance(data, dict) or data.get("kind") not in kinds:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path} is a {found!r} checkpoint; expected one of {list(kinds)}")
    if data.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {data.get('version')}, this code reads {FORMAT_VERSION}"
        )
    return data
