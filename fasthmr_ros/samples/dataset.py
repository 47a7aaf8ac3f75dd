"""The labelled data-set layout that `fasthmr synth` writes and `fasthmr eval`, `fasthmr train-hmr`
and `fasthmr merge --calib` read (docs/accuracy.md describes it for converting 3DPW or EMDB).

A data set is a folder:
- `images/NNNNNN.jpg` RGB scenes (any size; any OpenCV-readable file named in `image_files`);
- `masks/NNNNNN.png` optional uint8 person label maps: 0 background, k = the image's k-th person
  (in the order the persons of that image appear in `labels.npz`);
- `labels.npz` (no pickled objects): per image (I rows) and per person (P rows) arrays.

Per image: `image_files` (I,) str, `intrinsics` (I, 3, 3) pinhole K in pixels, `clip` (I,) int
(-1 for a still image), `frame` (I,) int (index inside the clip). Per person: `image_index` (P,),
`track_id` (P,) (the same person across a clip), `boxes` (P, 4) x1, y1, x2, y2 pixels of the
whole projected body clipped to the image, `global_orient` (P, 3, 3) camera frame,
`body_pose` (P, 23, 3, 3), `betas` (P, 10), `transl` (P, 3) metres (SMPL `transl`: added to the
body model output), `joints_3d` (P, 24, 3) camera-frame SMPL joints in metres, `joints_2d`
(P, 24, 2) their projections, `visible` (P,) fraction of the body's pixels not hidden by others
or occluders. Scalars: `fps`, `joint_set` ("smpl_24"), `body_model` (which body made the labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fasthmr_ros.errors import InputError
from fasthmr_ros.npz import atomic_savez, open_npz

LABELS_FILE = "labels.npz"
IMAGES_DIR = "images"
MASKS_DIR = "masks"
JOINT_SET = "smpl_24"
MIN_VISIBLE = 0.3  # persons hidden more than this are left out of training and evaluation
IMAGE_KEYS = ("image_files", "intrinsics", "clip", "frame")
PERSON_KEYS = (
    "image_index", "track_id", "boxes", "global_orient", "body_pose", "betas", "transl", "joints_3d",
    "joints_2d", "visible",
)  # fmt: skip


@dataclass
class LabelledSet:
    """A labelled data set in memory (labels only; images are read on demand)."""

    root: Path
    image_files: np.ndarray  # (I,) str, relative to root
    intrinsics: np.ndarray  # (I, 3, 3)
    clip: np.ndarray  # (I,) int, -1 = still image
    frame: np.ndarray  # (I,) int
    image_index: np.ndarray  # (P,) int
    track_id: np.ndarray  # (P,) int
    boxes: np.ndarray  # (P, 4)
    global_orient: np.ndarray  # (P, 3, 3)
    body_pose: np.ndarray  # (P, 23, 3, 3)
    betas: np.ndarray  # (P, 10)
    transl: np.ndarray  # (P, 3)
    joints_3d: np.ndarray  # (P, 24, 3)
    joints_2d: np.ndarray  # (P, 24, 2)
    visible: np.ndarray  # (P,)
    fps: float = 30.0
    body_model: str = ""

    @property
    def num_images(self) -> int:
        return len(self.image_files)

    @property
    def num_persons(self) -> int:
        return len(self.image_index)

    def image_rgb(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of image `index`."""
        path = self.root / str(self.image_files[index])
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read image {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def mask(self, index: int) -> np.ndarray | None:
        """(H, W) uint8 person label map of image `index`, or None when the set has none."""
        path = self.root / MASKS_DIR / (Path(str(self.image_files[index])).stem + ".png")
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None

    @property
    def box_heights(self) -> np.ndarray:
        """(P,) labelled box heights in pixels, at least 1: the scale 2D errors and keypoint noise
        are stated in."""
        return np.maximum(self.boxes[:, 3] - self.boxes[:, 1], 1.0)

    def persons_of(self, index: int) -> np.ndarray:
        """Person rows of image `index`, in label-map order."""
        return np.flatnonzero(self.image_index == index)

    def clip_ids(self) -> list[int]:
        return sorted(int(c) for c in np.unique(self.clip) if c >= 0)


def usable_persons(dataset: LabelledSet, min_visible: float = MIN_VISIBLE) -> np.ndarray:
    """Person rows visible enough to be estimated from their crop."""
    w = dataset.boxes[:, 2] - dataset.boxes[:, 0]
    h = dataset.boxes[:, 3] - dataset.boxes[:, 1]
    return np.flatnonzero((dataset.visible >= min_visible) & (w >= 8) & (h >= 8))


def is_labelled_set(path: str | Path) -> bool:
    return (Path(path) / LABELS_FILE).is_file()


def read_labelled_set(path: str | Path) -> LabelledSet:
    """Read and check a data-set folder; errors name the folder and what is wrong."""
    root = Path(path)
    file = root / LABELS_FILE
    if not file.is_file():
        raise InputError(f"{root} is not a labelled data set: {LABELS_FILE} missing (see docs/accuracy.md)")
    data = open_npz(file)
    missing = [k for k in IMAGE_KEYS + PERSON_KEYS if k not in data]
    if missing:
        raise InputError(f"{file} lacks {missing} (see docs/accuracy.md)")
    arrays = {k: data[k] for k in IMAGE_KEYS + PERSON_KEYS}
    images, persons = len(arrays["image_files"]), len(arrays["image_index"])
    for key in IMAGE_KEYS:
        if len(arrays[key]) != images:
            raise InputError(f"{file}: {key} has {len(arrays[key])} rows for {images} images")
    for key in PERSON_KEYS:
        if len(arrays[key]) != persons:
            raise InputError(f"{file}: {key} has {len(arrays[key])} rows for {persons} persons")
    if persons and (arrays["image_index"].min() < 0 or arrays["image_index"].max() >= images):
        raise InputError(f"{file}: image_index points outside the {images} images")
    if arrays["joints_3d"].shape[1:] != (24, 3):
        raise InputError(f"{file}: joints_3d must be (P, 24, 3) SMPL joints, got {arrays['joints_3d'].shape}")
    return LabelledSet(
        root=root,
        fps=float(data["fps"]) if "fps" in data else 30.0,
        body_model=str(data["body_model"]) if "body_model" in data else "",
        **arrays,
    )


def write_labelled_set(dataset: LabelledSet) -> Path:
    """Write `labels.npz` of `dataset` into its root (images and masks are written by the caller)."""
    path = dataset.root / LABELS_FILE
    arrays = {k: getattr(dataset, k) for k in IMAGE_KEYS + PERSON_KEYS}
    atomic_savez(path, fps=np.float64(dataset.fps), joint_set=np.str_(JOINT_SET),
                 body_model=np.str_(dataset.body_model), **arrays)  # fmt: skip
    return path
