"""Which model runs when the user names none, and the shipped default's own properties."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from fasthmr_ros.assets.paths import CAMERAHMR_CHECKPOINT_NAME, checkpoints_dir
from fasthmr_ros.config import model_preset
from fasthmr_ros.models.checkpoint import save_checkpoint
from fasthmr_ros.models.default import EMBEDDED_WEIGHTS, resolve_model
from fasthmr_ros.models.hmr import HMR


def test_the_shipped_weights_are_small_and_record_how_they_were_made() -> None:
    assert EMBEDDED_WEIGHTS.stat().st_size <= 20 * 2**20
    data = torch.load(EMBEDDED_WEIGHTS, map_location="cpu", weights_only=True)
    assert data["model_config"]["preset"] == "vit_xs"
    assert data["extra"]["training"]["command"].startswith("fasthmr train-hmr")


def test_without_files_the_embedded_default_runs() -> None:
    source = resolve_model()
    assert source.embedded and source.model.config.preset == "vit_xs"


def test_a_camerahmr_checkpoint_in_our_cache_is_found_without_flags() -> None:
    assert os.environ["FASTHMR_CACHE"]  # conftest isolates the cache: this never touches the user's
    path = checkpoints_dir() / CAMERAHMR_CHECKPOINT_NAME
    save_checkpoint(HMR(model_preset("tiny")), path)
    try:
        source = resolve_model()
        assert not source.embedded and Path(source.description) == path
        assert source.model.config.preset == "tiny"
    finally:
        path.unlink()
