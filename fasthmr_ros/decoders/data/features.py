"""Labelled feature sequences (docs/decoders.md layout b), one npz per sequence and person.

What the base model saw and predicted per frame next to the ground truth: they train the decoders'
image-conditioned stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from fasthmr_ros.decoders.data.common import NUM_BETAS, NUM_BODY_JOINTS, find_npz
from fasthmr_ros.errors import InputError
from fasthmr_ros.npz import atomic_savez, open_npz


@dataclass
class FeatureSequence:
    """One labelled video sequence as the base model saw it (layout (b) in docs/decoders.md)."""

    head_token: np.ndarray  # (T, D) the SMPL head's final query token
    global_orient: np.ndarray  # (T, 3, 3) ground truth
    body_pose: np.ndarray  # (T, 23, 3, 3) ground truth
    betas: np.ndarray  # (T, 10) ground truth
    pred_global_orient: np.ndarray  # (T, 3, 3) regression head
    pred_body_pose: np.ndarray  # (T, 23, 3, 3) regression head
    pred_betas: np.ndarray  # (T, 10) regression head
    pred_cam: np.ndarray  # (T, 3) regression head crop camera (s, tx, ty)
    fps: float
    image_tokens: np.ndarray | None = None  # (T, N, C) float16 backbone tokens
    joints3d: np.ndarray | None = None  # (T, 24, 3) ground-truth SMPL joints, metres
    keypoints2d: np.ndarray | None = None  # (T, K, 3) crop-normalised x, y and confidence
    name: str = field(default="", compare=False)

    def __len__(self) -> int:
        return int(self.head_token.shape[0])


_REQUIRED_SHAPES: dict[str, tuple[int | None, ...]] = {
    "head_token": (None, None),
    "global_orient": (None, 3, 3),
    "body_pose": (None, NUM_BODY_JOINTS, 3, 3),
    "betas": (None, NUM_BETAS),
    "pred_global_orient": (None, 3, 3),
    "pred_body_pose": (None, NUM_BODY_JOINTS, 3, 3),
    "pred_betas": (None, NUM_BETAS),
    "pred_cam": (None, 3),
}
_OPTIONAL_SHAPES: dict[str, tuple[int | None, ...]] = {
    "image_tokens": (None, None, None),
    "joints3d": (None, 24, 3),
    "keypoints2d": (None, None, 3),
}


def _check_shape(
    path: Path, key: str, array: np.ndarray, expected: tuple[int | None, ...], count: int
) -> None:
    ok = array.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, array.shape, strict=False)
    )
    if not ok or array.shape[0] != count:
        want = ", ".join("T" if i == 0 else ("*" if e is None else str(e)) for i, e in enumerate(expected))
        raise InputError(f"{path}: {key} must have shape ({want}) with T={count}, got {array.shape}")


def read_feature_sequence(path: str | Path, load_image_tokens: bool = False) -> FeatureSequence:
    """Read and validate one labelled feature-sequence npz.

    Image tokens are large and only some decoders need them: skipped unless asked for.
    """
    path = Path(path)
    with open_npz(path) as data:
        missing = sorted((set(_REQUIRED_SHAPES) | {"fps"}) - set(data.files))
        if missing:
            raise InputError(f"{path}: not a feature sequence (docs/decoders.md layout b), lacks {missing}")
        count = int(data["head_token"].shape[0])
        if count < 1:
            raise InputError(f"{path}: empty sequence")
        required: dict[str, np.ndarray] = {}
        for key, shape in _REQUIRED_SHAPES.items():
            required[key] = np.asarray(data[key], dtype=np.float32)
            _check_shape(path, key, required[key], shape, count)
        optional: dict[str, np.ndarray | None] = {}
        for key, shape in _OPTIONAL_SHAPES.items():
            if key not in data.files or (key == "image_tokens" and not load_image_tokens):
                optional[key] = None
                continue
            dtype = np.float16 if key == "image_tokens" else np.float32
            array = np.asarray(data[key], dtype=dtype)
            _check_shape(path, key, array, shape, count)
            optional[key] = array
        fps = float(data["fps"])
    if fps <= 0 or not np.isfinite(fps):
        raise InputError(f"{path}: fps {fps} is not positive")
    return FeatureSequence(
        **required,
        fps=fps,
        name=path.stem,
        image_tokens=optional["image_tokens"],
        joints3d=optional["joints3d"],
        keypoints2d=optional["keypoints2d"],
    )


def write_feature_sequence(path: str | Path, seq: FeatureSequence) -> None:
    """Write one sequence atomically (a crash mid-write never leaves a truncated npz behind)."""
    arrays: dict[str, np.ndarray] = {}
    for f in fields(seq):
        value = getattr(seq, f.name)
        if f.name == "name" or value is None:
            continue
        if f.name == "image_tokens":
            arrays[f.name] = np.asarray(value, dtype=np.float16)
        elif f.name == "fps":
            arrays[f.name] = np.array(float(value))
        else:
            arrays[f.name] = np.asarray(value, dtype=np.float32)
    atomic_savez(Path(path), **arrays)


def find_feature_sequences(root: str | Path) -> list[Path]:
    """All feature-sequence npz files under root (sorted), or root itself when it is a file."""
    return find_npz(root, missing="feature sequences", kind="feature sequences")
