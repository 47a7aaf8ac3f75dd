"""The one typed home of every setting.

`config/*.yaml`, launch arguments and CLI flags all fill these dataclasses, so a value has a
single name, type and default wherever it is set. Sections are plain dataclasses (no framework)
so they serialise into checkpoints and JSON reports as-is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass
class BackboneConfig:
    """ViTPose-style plain ViT. `depth` counts blocks after any layer merging."""

    embed_dim: int = 1280
    depth: int = 32
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_size: int = 16
    patch_padding: int = 2
    img_height: int = 256
    img_width: int = 192
    norm_eps: float = 1e-6


@dataclass
class HeadConfig:
    """HMR 2.0 transformer-decoder head (one query token, cross-attends to image tokens).

    `kind` is `hmr2` (zero query token) or `camerahmr` (CLIFF-style query token built from
    bbox_info + mean parameters, and an extra 2D-keypoint readout).
    """

    kind: str = "hmr2"
    dim: int = 1024
    depth: int = 6
    heads: int = 8
    dim_head: int = 64
    mlp_dim: int = 1024
    norm_eps: float = 1e-5
    num_body_joints: int = 23
    num_betas: int = 10
    num_keypoints_2d: int = 44


@dataclass
class ModelConfig:
    """Architecture of one HMR model: enough to rebuild it from a state dict."""

    preset: str = "vit_h"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    # Layer-merging plan applied to this model's backbone (ECLM): list of [first, last] windows
    # of the original layers that became one layer. Empty for an unmerged model.
    merge_plan: list[list[int]] = field(default_factory=list)
    original_depth: int | None = None


def _preset(embed: int, depth: int, heads: int, head: HeadConfig | None = None, name: str = "") -> ModelConfig:
    return ModelConfig(
        preset=name,
        backbone=BackboneConfig(embed_dim=embed, depth=depth, num_heads=heads),
        head=head or HeadConfig(),
    )


MODEL_PRESETS: dict[str, ModelConfig] = {
    # HMR 2.0 / CameraHMR (ViTPose-H): 630.9 M backbone parameters.
    "vit_h": _preset(1280, 32, 16, name="vit_h"),
    # Same structure, ViT-B and ViT-S widths: for CPUs and small GPUs once trained/distilled.
    "vit_b": _preset(768, 12, 12, name="vit_b"),
    "vit_s": _preset(384, 12, 6, HeadConfig(dim=512, depth=4, heads=8, dim_head=64, mlp_dim=512), "vit_s"),
    # Tests and the embedded default: runs in milliseconds on a CPU.
    "tiny": _preset(64, 4, 2, HeadConfig(dim=64, depth=2, heads=2, dim_head=16, mlp_dim=64), "tiny"),
}


def model_preset(name: str) -> ModelConfig:
    """A fresh copy of a named architecture preset."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(MODEL_PRESETS)}")
    return from_dict(ModelConfig, to_dict(MODEL_PRESETS[name]))


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain nested dict (JSON/YAML/checkpoint safe)."""
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
    """Plain dict -> dataclass, recursing into nested dataclass fields.

    Unknown keys are an error that names them, so a typo in a YAML file is never silently ignored.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {unknown}; known: {sorted(fields)}")
    kwargs = {}
    hints = _resolved_types(cls)
    for name, value in data.items():
        target = hints.get(name)
        if dataclasses.is_dataclass(target) and isinstance(value, dict):
            value = from_dict(target, value)
        kwargs[name] = value
    return cls(**kwargs)


def _resolved_types(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def load_yaml_section(path: str | Path, cls: type[T], section: str | None = None) -> T:
    """Read one dataclass from a YAML file (optionally from a top-level section of it)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if section is not None:
        data = data.get(section, {})
    return from_dict(cls, data)


@dataclass
class GenHMRTokenizerConfig:
    """VQ-VAE over the 21 SMPL body-joint rotations (6D). Defaults: GenHMR's 96 tokens, 2048 x 256."""

    num_joints: int = 21
    num_tokens: int = 96
    codebook_size: int = 2048
    code_dim: int = 256
    hidden_dim: int = 512
    num_res_blocks: int = 3
    ema_decay: float = 0.99
    commitment_weight: float = 0.25
    # Weight of the joint-position MSE (metres^2, 24 joints at the template shape) next to the
    # rotation MSE; higher values fit joint positions at the expense of leaf-joint twists.
    joint_loss_weight: float = 1.0
    # A code whose EMA usage count falls below this is re-seeded from a random encoder output.
    dead_code_threshold: float = 1.0


@dataclass
class GenHMRTransformerConfig:
    """Image-conditioned masked transformer over pose tokens (sizes are our choice: the paper is silent)."""

    dim: int = 512
    depth: int = 6
    heads: int = 8
    mlp_dim: int = 2048
    dropout: float = 0.1
    context_dim: int = 1280  # backbone token width (1280 for ViT-H)
    head_token_dim: int = 1024  # regression head query width; 0 = do not use it as context
    orient_weight: float = 1.0  # training weight of the global-orientation regression loss


@dataclass
class GenHMRSamplingConfig:
    """Uncertainty-guided iterative decoding (MaskGIT-style, cosine schedule)."""

    iterations: int = 5
    temperature: float = 1.0
    # "argmax": reproducible, no sampling noise between frames; "sample": draw from the softmax.
    mode: str = "argmax"
    seed: int | None = None


@dataclass
class GenHMRRefinementConfig:
    """2D pose-guided refinement of the continuous token embeddings."""

    enabled: bool = True
    steps: int = 10
    lr: float = 0.1  # Adam step on the input embeddings (initialised N(0, 1))
    reprojection_weight: float = 1.0
    prior_weight: float = 0.1  # keeps the pose near the sampled one (rotation-matrix distance)
    embedding_weight: float = 0.0  # optional pull of the embeddings towards their start
    soft_temperature: float = 1.0  # softmax temperature of the token probabilities -> soft codes
    min_keypoint_confidence: float = 0.3
    time_budget_ms: float = 50.0  # per frame; remaining steps are skipped once exceeded (0 = none)


@dataclass
class GenHMRConfig:
    """GenHMR as a selectable decoder: `model_path` is a checkpoint written by `fasthmr train-genhmr`."""

    model_path: str = ""
    tokenizer: GenHMRTokenizerConfig = field(default_factory=GenHMRTokenizerConfig)
    transformer: GenHMRTransformerConfig = field(default_factory=GenHMRTransformerConfig)
    sampling: GenHMRSamplingConfig = field(default_factory=GenHMRSamplingConfig)
    refinement: GenHMRRefinementConfig = field(default_factory=GenHMRRefinementConfig)
