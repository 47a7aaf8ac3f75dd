"""Pose decoders: `build_decoder` turns the `decoder:` setting into a `PoseDecoder`.

Decoders other than `regression` are imported only when chosen, so a missing optional one (or its
checkpoint) fails with a clear message instead of breaking the whole package.
"""

from __future__ import annotations

from typing import Any

import torch

from fasthmr_ros.config import DECODERS, DecoderConfig
from fasthmr_ros.decoders.base import PoseDecoder, RegressionDecoder
from fasthmr_ros.errors import FastHMRError, MissingFileError
from fasthmr_ros.models.body_model import BodyModel


def build_decoder(
    cfg: DecoderConfig,
    body_model: BodyModel | None = None,
    device: str | torch.device = "cpu",
    genhmr_cfg: Any = None,
) -> PoseDecoder:
    """The decoder `cfg.decoder` names, loaded from its model path.

    `body_model` is used by GenHMR's 2D refinement (the diffusion decoder carries its skeleton in
    its checkpoint); `genhmr_cfg` (a `GenHMRConfig`) carries GenHMR's sampling/refinement settings.
    """
    if cfg.decoder == "regression":
        return RegressionDecoder()
    if cfg.decoder == "one_euro":
        from fasthmr_ros.decoders.one_euro import OneEuroDecoder

        return OneEuroDecoder.from_config(cfg)
    if cfg.decoder == "diffusion":
        if not cfg.diffusion_model:
            raise MissingFileError(
                "decoder 'diffusion' needs a model: set diffusion_model (--diffusion-model) to a "
                "checkpoint written by `fasthmr train-decoder denoiser`"
            )
        from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder

        return DiffusionDecoder.from_checkpoint(cfg.diffusion_model, cfg, device)
    if cfg.decoder == "genhmr":
        if not cfg.genhmr_model:
            raise MissingFileError("decoder 'genhmr' needs a model: set genhmr_model (--genhmr-model)")
        try:
            from fasthmr_ros.decoders.genhmr.decoder import GenHMRDecoder
        except ImportError as exc:
            raise FastHMRError(f"decoder 'genhmr' is not available in this installation ({exc})") from exc
        return GenHMRDecoder.from_checkpoint(cfg.genhmr_model, genhmr_cfg, body_model, device)
    raise FastHMRError(f"unknown decoder {cfg.decoder!r}; choose one of {', '.join(DECODERS)}")

