"""Which model and body model to use when the user names none: their files if found, else the
embedded default.

The embedded default exists so every command runs end to end on a fresh machine with no
downloads (CI, first try, a robot without weights yet). It is a tiny random-weight network whose
outputs stay near a standing mean pose, and a generated stand-in body that is *not* SMPL. Its
estimates are meaningless and every entry point says so loudly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fasthmr_ros.assets import paths
from fasthmr_ros.config import model_preset
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.models.standin import ensure_standin_assets

log = logging.getLogger(__name__)

EMBEDDED_WARNING = (
    "USING THE EMBEDDED DEFAULT: a random-weight network and a generated stand-in body (not SMPL). "
    "Estimates are MEANINGLESS until real weights are given: run `fasthmr download hmr2` and put "
    "SMPL_NEUTRAL.pkl in place (see `fasthmr download status`)."
)


def embedded_default_model(seed: int = 0) -> HMR:
    """A `tiny` HMR with seeded random weights, read-outs scaled down so poses stay plausible."""
    assets = ensure_standin_assets()
    with torch.random.fork_rng():  # every default-initialised tensor (biases too) from `seed`
        torch.manual_seed(seed)
        model = HMR(model_preset("tiny"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                fan_in = param[0].numel()
                param.copy_(torch.randn(param.shape, generator=gen) * (0.5 / fan_in) ** 0.5)
        head = model.smpl_head
        for layer in (head.decpose, head.decshape, head.deccam):
            layer.weight.mul_(0.02)
            layer.bias.zero_()
        means = np.load(assets.mean_params)
        head.init_body_pose.copy_(torch.as_tensor(means["pose"], dtype=torch.float32).reshape(1, -1))
        head.init_betas.copy_(torch.as_tensor(means["shape"], dtype=torch.float32).reshape(1, -1))
        head.init_cam.copy_(torch.as_tensor(means["cam"], dtype=torch.float32).reshape(1, -1))
    return model.eval()


@dataclass
class ModelSource:
    model: HMR
    description: str
    embedded: bool


def resolve_model(checkpoint: str | Path | None = None, device: str = "cpu") -> ModelSource:
    """An explicit checkpoint, else HMR 2.0 from the 4D-Humans cache, else the embedded default."""
    found = paths.find_hmr2_checkpoint(checkpoint)
    if found is not None:
        return ModelSource(load_model(found, device=device), str(found), embedded=False)
    log.warning(EMBEDDED_WARNING)
    return ModelSource(
        embedded_default_model().to(device), "embedded default (random weights)", embedded=True
    )


@dataclass
class BodySource:
    body: BodyModel
    description: str
    standin: bool


def resolve_body_model(smpl: str | Path | None = None, j19: str | Path | None = None) -> BodySource:
    """An explicit SMPL file, else the one in the 4D-Humans cache, else the generated stand-in."""
    smpl_path = paths.find_smpl_model(smpl)
    if smpl_path is not None:
        return BodySource(BodyModel(smpl_path, paths.find_j19_regressor(j19)), str(smpl_path), standin=False)
    log.warning("SMPL_NEUTRAL.pkl not found: using the generated stand-in body (not SMPL)")
    assets = ensure_standin_assets()
    return BodySource(BodyModel(assets.smpl, assets.j19), "generated stand-in body (not SMPL)", standin=True)
