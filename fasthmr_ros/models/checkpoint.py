"""Loading and saving model weights.

Three formats load through `load_model`:
- official HMR 2.0 Lightning checkpoints (`state_dict` with `backbone.*`, `smpl_head.*`, plus
  `discriminator.*`, `smpl.*` and other training-only entries that we ignore on purpose);
- CameraHMR checkpoints (same layout, CLIFF-style head recognised by its token width and `deckp`);
- this project's own format, which embeds the `ModelConfig` (merged or smaller models rebuild
  without flags) and holds only tensors and plain values, so it loads with `weights_only=True`.

Lightning files pickle a yacs config object, which `weights_only=True` refuses. For those we fall
back to a full unpickle, which can run code: acceptable only because the user pointed at the file.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from fasthmr_ros.config import MODEL_PRESETS, HeadConfig, ModelConfig, from_dict, to_dict
from fasthmr_ros.errors import CheckpointError, MissingFileError
from fasthmr_ros.models.hmr import HMR

log = logging.getLogger(__name__)

FORMAT_KEY = "fasthmr_ros_format"
FORMAT_VERSION = 1
MODEL_PREFIXES = ("backbone.", "smpl_head.")
# ViT widths of the official family -> attention heads (not recoverable from tensor shapes).
HEADS_BY_WIDTH = {cfg.backbone.embed_dim: cfg.backbone.num_heads for cfg in MODEL_PRESETS.values()}


def read_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """torch.load with the safe loader first, the full unpickler only for Lightning files."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"checkpoint not found: {path}. Run `fasthmr download hmr2` for HMR 2.0, or pass the path "
            "of a CameraHMR / fasthmr_ros checkpoint."
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        log.warning(
            "%s pickles Python objects (a Lightning/yacs config); loading it fully because you chose it", path
        )
        try:
            data = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CheckpointError(
                f"{path}: cannot unpickle checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(data).__name__}")
    return data


def _model_state(data: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    state = data.get("state_dict", data)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: 'state_dict' is not a dict")
    model_state = {k: v for k, v in state.items() if k.startswith(MODEL_PREFIXES)}
    ignored = len(state) - len(model_state)
    if ignored:
        log.debug("%s: ignoring %d training-only entries (discriminator, smpl buffers, ...)", path, ignored)
    if not model_state:
        raise CheckpointError(
            f"{path}: no 'backbone.*' / 'smpl_head.*' weights found; this is not an HMR 2.0, CameraHMR "
            "or fasthmr_ros checkpoint"
        )
    return model_state


def infer_config(state: dict[str, torch.Tensor], path: Path | str = "<state>") -> ModelConfig:
    """Rebuild the architecture of an official-layout state dict from its tensor shapes."""
    try:
        pos = state["backbone.pos_embed"]
        embed_dim = int(pos.shape[-1])
        depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("backbone.blocks."))
        mlp_hidden = int(state["backbone.blocks.0.mlp.fc1.weight"].shape[0])
        head_dim = int(state["smpl_head.transformer.pos_embedding"].shape[-1])
        token_dim = int(state["smpl_head.transformer.to_token_embedding.weight"].shape[1])
        inner = int(state["smpl_head.transformer.transformer.layers.0.1.fn.to_q.weight"].shape[0])
        head_mlp = int(state["smpl_head.transformer.transformer.layers.0.2.fn.net.0.weight"].shape[0])
        npose = int(state["smpl_head.decpose.weight"].shape[0])
        nbetas = int(state["smpl_head.decshape.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointError(f"{path}: missing key {exc} needed to infer the architecture") from exc
    if embed_dim not in HEADS_BY_WIDTH:
        raise CheckpointError(
            f"{path}: backbone width {embed_dim} is not a known preset ({sorted(HEADS_BY_WIDTH)}); "
            "save it in the fasthmr_ros format, which records the architecture"
        )
    head_depth = 1 + max(
        int(k.split(".")[4]) for k in state if k.startswith("smpl_head.transformer.transformer.layers.")
    )
    kind = "camerahmr" if token_dim != 1 or "smpl_head.deckp.weight" in state else "hmr2"
    name = next(n for n, c in MODEL_PRESETS.items() if c.backbone.embed_dim == embed_dim)
    preset_head = MODEL_PRESETS[name].head
    if preset_head.heads * preset_head.dim_head == inner:
        heads, dim_head = preset_head.heads, preset_head.dim_head
    else:
        heads = max(1, inner // 64)
        dim_head = inner // heads
    head = HeadConfig(
        kind=kind,
        dim=head_dim,
        depth=head_depth,
        heads=heads,
        dim_head=dim_head,
        mlp_dim=head_mlp,
        num_body_joints=npose // 6 - 1,
        num_betas=nbetas,
    )
    if kind == "camerahmr" and "smpl_head.deckp.weight" in state:
        head.num_keypoints_2d = int(state["smpl_head.deckp.weight"].shape[0]) // 2
    cfg = ModelConfig(preset=name, head=head)
    cfg.backbone.embed_dim = embed_dim
    cfg.backbone.depth = depth
    cfg.backbone.num_heads = HEADS_BY_WIDTH[embed_dim]
    cfg.backbone.mlp_ratio = mlp_hidden / embed_dim
    return cfg


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path | str) -> None:
    """Name every missing, unexpected and mis-shaped key instead of failing on the first."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{label} keys: {shown}")
    if problems:
        raise CheckpointError(f"{path} does not match the model architecture; " + "; ".join(problems))


def model_from_state(
    state: dict[str, torch.Tensor], config: ModelConfig, path: Path | str = "<state>"
) -> HMR:
    model = HMR(config)
    check_state_dict(model, state, path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    config: ModelConfig | None = None,
) -> HMR:
    """Load any supported checkpoint into an `HMR` in eval mode on `device`.

    `config` overrides the architecture (only needed for official-layout files of unusual width).
    """
    path = Path(path)
    data = read_checkpoint_file(path)
    if data.get(FORMAT_KEY) is not None:
        if int(data[FORMAT_KEY]) > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: format version {data[FORMAT_KEY]} is newer than this package supports"
            )
        config = config or from_dict(ModelConfig, data["model_config"])
        state = data["state_dict"]
    else:
        state = _model_state(data, path)
        config = config or infer_config(state, path)
    model = model_from_state(state, config, path)
    log.info(
        "loaded %s (%s head, %d ViT layers%s) from %s",
        config.preset,
        config.head.kind,
        config.backbone.depth,
        f", merged from {config.original_depth}" if config.merge_plan else "",
        path,
    )
    return model.to(device)


def save_checkpoint(model: HMR, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the fasthmr_ros format: tensors + the architecture, loadable with weights_only=True."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        FORMAT_KEY: FORMAT_VERSION,
        "model_config": to_dict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    torch.save(payload, path)
    return path
