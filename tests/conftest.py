"""Shared fixtures: small models and generated files in the official layouts."""

from __future__ import annotations

import os

import pytest
import torch

# Two cores in CI: keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the user's real caches from tests."""
    root = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("FASTHMR_CACHE", str(root / "fasthmr_cache"))
    monkeypatch.setenv("FASTHMR_4DHUMANS_DIR", str(root / "4dhumans_cache"))
