"""Which model and body model to use when the user names none: their files if found, else the
embedded default.

The embedded default exists so every command runs end to end on a fresh machine with no
downloads (CI, first try, a robot without weights yet). It is a small HMR-structured network
(`vit_xs`) trained by `fasthmr train-hmr` on synthetic stand-in bodies only, and a generated
stand-in body that is *not* SMPL. On scenes of stand-in bodies (the demo's) its meshes lie on the
people and follow them; on real people its estimates are not usable, and every entry point
says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fasthmr_ros.assets import paths
from fasthmr_ros.errors import MissingFileError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.models.standin import ensure_standin_assets

log = logging.getLogger(__name__)

# Written by the command in docs/accuracy.md (`fasthmr train-hmr`), shipped inside the package.
EMBEDDED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "vit_xs_synthetic.pt"
EMBEDDED_WARNING = (
    "USING THE EMBEDDED DEFAULT: a small network trained on synthetic stand-in bodies only, with a "
    "generated stand-in body model (not SMPL). It follows stand-in bodies like the demo's; for real "
    "people its estimates are not usable: they need the HMR 2.0 weights (`fasthmr download hmr2`) "
    "and SMPL_NEUTRAL.pkl (see `fasthmr download status`)."
)


def embedded_default_model() -> HMR:
    """The shipped `vit_xs` weights trained on synthetic stand-in bodies (docs/accuracy.md)."""
    if not EMBEDDED_WEIGHTS.is_file():
        raise MissingFileError(
            f"the embedded default weights are missing from the package ({EMBEDDED_WEIGHTS})"
        )
    return load_model(EMBEDDED_WEIGHTS)


@dataclass
class ModelSource:
    model: HMR
    description: str
    embedded: bool


def resolve_model(checkpoint: str | Path | None = None, device: str = "cpu") -> ModelSource:
    """An explicit checkpoint, else HMR 2.0 from the 4D-Humans cache, else CameraHMR from this
    project's cache (`~/.cache/fasthmr_ros/checkpoints/`), else the embedded default."""
    found = paths.find_hmr2_checkpoint(checkpoint)
    if found is None:
        found = paths.find_camerahmr_checkpoint()
    if found is not None:
        return ModelSource(load_model(found, device=device), str(found), embedded=False)
    log.warning(EMBEDDED_WARNING)
    description = "embedded default (trained on synthetic stand-in bodies)"
    return ModelSource(embedded_default_model().to(device), description, embedded=True)


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
