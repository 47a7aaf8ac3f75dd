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


def _preset(
    embed: int, depth: int, heads: int, head: HeadConfig | None = None, name: str = ""
) -> ModelConfig:
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
class MergingConfig:
    """Mask-ToMe token merging at inference time (FastHMR §3.2). No weights depend on it.

    Layer merging (ECLM) is not here: it changes the weights, so it lives in a checkpoint's
    `ModelConfig.merge_plan`.
    """

    # Tokens merged after the attention of blocks 0, 1, 2, ...: the paper's 192 -> 152 -> 112 -> 90.
    # An empty list switches token merging off (the model is then bit-identical to the unmerged one).
    token_schedule: list[int] = field(default_factory=lambda: [40, 40, 22])
    # Alternative to token_schedule: reach this many tokens, spread evenly over `target_layers`.
    target_tokens: int | None = None
    target_layers: int = 3
    # Which person mask protects tokens: auto (segmentation, else tracked silhouette, else box),
    # segmentation, silhouette, box, or none (plain ToMe).
    mask_source: str = "auto"
    # A patch is a person patch when at least this fraction of its pixels is person.
    mask_threshold: float = 0.25
    # The previous frame's silhouette is grown by this many crop pixels to cover the motion.
    silhouette_dilate_px: int = 4


@dataclass
class DiffusionConfig:
    """FastHMR's temporal diffusion decoder (§3.3): motion VAE + latent denoiser.

    Architecture and schedule; stored in every checkpoint so a model rebuilds from its file.
    Defaults are the paper's sizes (window 243 -> latent 27 x 512; VAE 9 layers, denoiser 5).
    """

    preset: str = "paper"
    window: int = 243  # frames per decoded window
    fps: float = 30.0  # frame rate the motion prior is trained at
    latent_tokens: int = 27
    latent_dim: int = 512
    feature_dim: int = 1024  # per-frame conditioning feature (the head token) width
    vae_width: int = 512
    vae_layers: int = 9  # each of encoder and decoder
    vae_heads: int = 4
    vae_ff: int = 1024
    denoiser_width: int = 512
    denoiser_layers: int = 5  # odd: (n-1)/2 in, 1 middle, (n-1)/2 out with long skips
    denoiser_heads: int = 4
    denoiser_ff: int = 1024
    dropout: float = 0.1
    timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    kl_weight: float = 1e-4


DIFFUSION_PRESETS: dict[str, DiffusionConfig] = {
    "paper": DiffusionConfig(),
    # The evidence experiment: trains on the CPU in minutes on synthetic motion.
    "small": DiffusionConfig(
        preset="small", window=32, latent_tokens=8, latent_dim=64, feature_dim=144, vae_width=96,
        vae_layers=3, vae_heads=4, vae_ff=192, denoiser_width=96, denoiser_layers=3, denoiser_heads=4,
        denoiser_ff=192, dropout=0.0,
    ),
    # Tests: milliseconds per step.
    "tiny": DiffusionConfig(
        preset="tiny", window=16, latent_tokens=4, latent_dim=8, feature_dim=64, vae_width=32,
        vae_layers=1, vae_heads=2, vae_ff=64, denoiser_width=32, denoiser_layers=3, denoiser_heads=2,
        denoiser_ff=64, dropout=0.0, timesteps=100,
    ),
}


def diffusion_preset(name: str) -> DiffusionConfig:
    """A fresh copy of a named diffusion-decoder preset."""
    if name not in DIFFUSION_PRESETS:
        raise ValueError(f"unknown diffusion preset {name!r}; choose one of {sorted(DIFFUSION_PRESETS)}")
    return from_dict(DiffusionConfig, to_dict(DIFFUSION_PRESETS[name]))


DECODERS = ("regression", "diffusion", "genhmr")


@dataclass
class DecoderConfig:
    """Which pose decoder runs after the base head, and where its model lives.

    Shape and camera always come from the base head; only the pose is replaced.
    """

    decoder: str = "regression"  # regression | diffusion | genhmr
    diffusion_model: str = ""  # checkpoint from `fasthmr train-decoder denoiser`
    genhmr_model: str = ""  # checkpoint from the GenHMR trainer
    # Diffusion decoder at run time: emit the pose of frame t-k using k future frames (0 = causal).
    lookahead: int = 0
    sample_steps: int = 1  # denoising steps (the paper uses one)
    min_history: int = 4  # frames a track needs before the diffusion decoder takes over
