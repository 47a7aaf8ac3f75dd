"""What the decoder-data readers and generators share: SMPL sizes, axis-angle, finding npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.errors import InputError

NUM_BODY_JOINTS = 23  # SMPL joints after the root
NUM_BETAS = 10


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3)."""
    flat = rotvec.reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_matrix().reshape(*rotvec.shape[:-1], 3, 3)


def find_npz(root: str | Path, missing: str, kind: str, exclude: str = "") -> list[Path]:
    """A file as given, or every .npz under a folder (sorted); a clear error when there is none."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{missing} not found: {root}")
    files = sorted(p for p in root.rglob("*.npz") if p.name != exclude)
    if not files:
        raise InputError(f"no .npz {kind} under {root}")
    return files
