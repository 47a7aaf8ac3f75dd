"""Where the real files live, and finding them without flags.

Two caches:
- the 4D-Humans cache (`~/.cache/4DHumans`, env `FASTHMR_4DHUMANS_DIR`): the official HMR 2.0
  archive unpacks there with the layout 4D-Humans itself uses, so a machine that already ran
  4D-Humans needs nothing new, and `fasthmr download hmr2` fills it for everyone else;
- this project's cache (`~/.cache/fasthmr_ros`, env `FASTHMR_CACHE`): CameraHMR checkpoints the
  user places by hand, merged checkpoints, TensorRT engines and generated stand-in assets.

Every `find_*` function takes an optional explicit path (a CLI flag or a config value): it wins,
and if it does not exist that is an error naming it, because silently falling back to another
file would give numbers from weights the user did not ask for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fasthmr_ros.errors import MissingFileError

ENV_4DHUMANS_DIR = "FASTHMR_4DHUMANS_DIR"
ENV_CACHE_DIR = "FASTHMR_CACHE"

# Relative to the 4D-Humans cache dir (the layout of the unpacked hmr2_data.tar.gz).
HMR2_CHECKPOINT_REL = Path("logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt")
MEAN_PARAMS_REL = Path("data/smpl_mean_params.npz")
J19_REGRESSOR_REL = Path("data/SMPL_to_J19.pkl")
SMPL_NEUTRAL_REL = Path("data/smpl/SMPL_NEUTRAL.pkl")
HMR2_ARCHIVE_NAME = "hmr2_data.tar.gz"

# Relative to this project's cache dir.
CHECKPOINTS_SUBDIR = "checkpoints"
ENGINES_SUBDIR = "engines"
STANDIN_SUBDIR = "standin"
CAMERAHMR_CHECKPOINT_NAME = "camerahmr_checkpoint_cleaned.ckpt"

SMPL_HELP = (
    "SMPL_NEUTRAL.pkl is licensed and cannot be downloaded for you: register at "
    "https://smpl.is.tue.mpg.de, download 'SMPL for Python', take "
    "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl, rename it SMPL_NEUTRAL.pkl and put it at "
    "~/.cache/4DHumans/data/smpl/SMPL_NEUTRAL.pkl (where 4D-Humans keeps it), or pass --smpl PATH."
)
HMR2_HELP = "run `fasthmr download hmr2` (fetches and unpacks the public HMR 2.0 archive)"
CAMERAHMR_HELP = (
    "register at https://camerahmr.is.tue.mpg.de, download camerahmr_checkpoint_cleaned.ckpt and put it "
    "in ~/.cache/fasthmr_ros/checkpoints/ (or $FASTHMR_CACHE/checkpoints/), or pass its path explicitly"
)


def fourdhumans_dir() -> Path:
    """The 4D-Humans cache dir: `$FASTHMR_4DHUMANS_DIR`, else `~/.cache/4DHumans`."""
    override = os.environ.get(ENV_4DHUMANS_DIR)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "4DHumans"


def cache_dir() -> Path:
    """This project's own cache dir: `$FASTHMR_CACHE`, else `~/.cache/fasthmr_ros`."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "fasthmr_ros"


def checkpoints_dir() -> Path:
    """CameraHMR checkpoints (placed by the user) and merged checkpoints (written by us)."""
    return cache_dir() / CHECKPOINTS_SUBDIR


def engines_dir() -> Path:
    """TensorRT engines; they are tied to one GPU and TensorRT version, so they live apart."""
    return cache_dir() / ENGINES_SUBDIR


def standin_dir() -> Path:
    """Generated stand-in assets (body model, random weights) for runs without real files."""
    return cache_dir() / STANDIN_SUBDIR


def hmr2_archive_path(base: Path | None = None) -> Path:
    """Where the downloaded archive is kept (beside its contents, as 4D-Humans keeps it)."""
    return (base or fourdhumans_dir()) / HMR2_ARCHIVE_NAME


def _resolve(explicit: str | os.PathLike[str] | None, default: Path, what: str) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MissingFileError(f"{what} not found at the given path {path}")
        return path
    return default if default.is_file() else None


def find_hmr2_checkpoint(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The official HMR 2.0 Lightning checkpoint, or None when not downloaded."""
    return _resolve(explicit, fourdhumans_dir() / HMR2_CHECKPOINT_REL, "HMR 2.0 checkpoint")


def find_smpl_model(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """SMPL_NEUTRAL.pkl (licensed, placed by the user), or None."""
    return _resolve(explicit, fourdhumans_dir() / SMPL_NEUTRAL_REL, "SMPL model")


def find_j19_regressor(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """SMPL_to_J19.pkl (from the HMR 2.0 archive), or None."""
    return _resolve(explicit, fourdhumans_dir() / J19_REGRESSOR_REL, "SMPL_to_J19 regressor")


def find_camerahmr_checkpoint(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The CameraHMR checkpoint placed by the user in our cache, or None."""
    return _resolve(explicit, checkpoints_dir() / CAMERAHMR_CHECKPOINT_NAME, "CameraHMR checkpoint")


@dataclass(frozen=True)
class FileStatus:
    """One real file: where it is expected, whether it is there, and how to get it."""

    name: str
    expected: Path
    found: bool
    required: bool
    how_to_get: str


def file_statuses() -> list[FileStatus]:
    """Every real file this project can use, in the order a user should get them."""
    base = fourdhumans_dir()
    entries = [
        ("HMR 2.0 checkpoint", base / HMR2_CHECKPOINT_REL, True, HMR2_HELP),
        (
            "HMR 2.0 model_config.yaml",
            base / HMR2_CHECKPOINT_REL.parent.parent / "model_config.yaml",
            True,
            HMR2_HELP,
        ),
        ("SMPL mean parameters", base / MEAN_PARAMS_REL, True, HMR2_HELP),
        ("SMPL_to_J19 regressor", base / J19_REGRESSOR_REL, True, HMR2_HELP),
        ("SMPL model", base / SMPL_NEUTRAL_REL, True, SMPL_HELP),
        (
            "CameraHMR checkpoint (optional)",
            checkpoints_dir() / CAMERAHMR_CHECKPOINT_NAME,
            False,
            CAMERAHMR_HELP,
        ),
    ]
    statuses = []
    for name, path, required, how in entries:
        statuses.append(FileStatus(name, path, path.is_file(), required, how))
    return statuses


def describe_missing() -> str:
    """Text listing each missing file and how to get it; empty when nothing is missing.

    Files that come the same way (the four from the HMR 2.0 archive) share one instruction.
    """
    groups: dict[str, list[FileStatus]] = {}
    for status in file_statuses():
        if not status.found:
            groups.setdefault(status.how_to_get, []).append(status)
    blocks = []
    for how, statuses in groups.items():
        names = ", ".join(s.name for s in statuses)
        expected = "".join(f"\n    expected at {s.expected}" for s in statuses)
        blocks.append(f"- {names}:{expected}\n    {how}")
    return "\n".join(blocks)
