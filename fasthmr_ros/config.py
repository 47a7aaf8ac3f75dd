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
class RuntimeConfig:
    """How the network runs: which backend, at what precision, on which device.

    `backend`: auto (TensorRT if installed and a CUDA GPU is present, else torch on CUDA, else torch
    on the CPU), tensorrt, torch (on `device`), onnxruntime (CUDA provider if present, else CPU) or cpu.
    A backend named explicitly that cannot run here is an error, never a silent substitute.
    """

    backend: str = "auto"
    # fp32 | fp16 | bf16. CPU backends run fp32 whatever is asked (the selection reason says so).
    precision: str = "fp16"
    device: str = "cuda"
    # torch backend only: torch.compile the model, and capture the fixed-shape path as a CUDA graph.
    compile: bool = False
    cuda_graphs: bool = False
    # TensorRT engines and exported ONNX files; None = `fasthmr_ros.assets.paths.engines_dir()`.
    engine_cache_dir: str | None = None
    # Crops per forward for the fixed-shape backends (TensorRT, CUDA graphs); more are split,
    # fewer are padded.
    batch: int = 1
    # TensorRT builder workspace limit.
    workspace_gb: float = 4.0
    # Calibration crops (.npz, key `crops` (N, 3, 256, 256)) for an INT8 TensorRT engine.
    int8_calibration: str | None = None
