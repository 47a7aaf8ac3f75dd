"""Reading and writing the package's .npz data files (labels, calibration sets, sequences).

Every file is opened without pickles (data files come from users and the internet, and a
pickle runs code), and a file numpy cannot read becomes the caller's user-facing error that
names the path, never a bare traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fasthmr_ros.errors import FastHMRError, InputError


def open_npz(path: str | Path, error: type[FastHMRError] = InputError) -> np.lib.npyio.NpzFile:
    """np.load without pickles; an unreadable file raises `error` naming the path."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise error(f"{path} is not a readable npz file ({exc})") from exc


def atomic_savez(path: Path, **arrays: npt.ArrayLike) -> None:
    """Write via a temporary file and rename: a crash mid-write never leaves a truncated npz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.npz")
    np.savez(tmp, allow_pickle=False, **arrays)
    os.replace(tmp, path)
