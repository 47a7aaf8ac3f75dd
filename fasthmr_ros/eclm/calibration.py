"""Calibration sets for ECLM: a labelled data set or npz, or unlabelled images from a folder,
video or rosbag.

A labelled data-set folder (the layout `fasthmr synth` writes and `fasthmr eval` reads, see
docs/accuracy.md) gives one crop per usable person, cropped from its box with the image's own
intrinsics, labelled with its 24 SMPL joints (`smpl_24`).

Labelled npz layout (all arrays; uint8 images are RGB):
- `crops` (N, 256, 256, 3) uint8: ready-made person crops as the model sees them, or
  `images` (N, H, W, 3) uint8 with `boxes` (N, 4) float x1, y1, x2, y2 pixels (cropped here
  exactly as the pipeline crops);
- `joints_3d` (N, J, 3) float metres, ground truth; optional: without it the set is label-free;
- `joint_set` (string, optional, default `smpl_24`): the joint order of `joints_3d`, either
  `smpl_24` (SMPL kinematic joints) or the body model's set (`hmr2_44` with SMPL_to_J19.pkl).

Unlabelled sources give one crop per frame: around the best-scoring person of a detector when
one is given (frames without a person are skipped), else around the whole frame. The unmerged
model's own joints are then the reference (label-free ECLM).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.eclm.merge import Calibration, CalibrationError
from fasthmr_ros.models.hmr import CROP_SIZE, IMAGE_MEAN, IMAGE_STD
from fasthmr_ros.models.joints import JOINT_SET_SMPL24
from fasthmr_ros.npz import open_npz
from fasthmr_ros.pipeline.camera import bbox_info, default_intrinsics
from fasthmr_ros.pipeline.crop import crop_persons
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.samples.dataset import is_labelled_set, read_labelled_set, usable_persons

if TYPE_CHECKING:
    from fasthmr_ros.pipeline.yolo import YoloOnnxDetector

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
BAG_SUFFIXES = (".mcap", ".db3")


def _normalise(crops_rgb: np.ndarray) -> torch.Tensor:
    """(N, 256, 256, 3) uint8 RGB -> (N, 3, 256, 256) float, ImageNet-normalised."""
    mean = np.asarray(IMAGE_MEAN, dtype=np.float32) * 255
    std = np.asarray(IMAGE_STD, dtype=np.float32) * 255
    return torch.from_numpy(((crops_rgb.astype(np.float32) - mean) / std).transpose(0, 3, 1, 2).copy())


class _CropCollector:
    """Crops frames (whole-frame or given boxes) and keeps what CameraHMR heads need."""

    def __init__(self, crop_policy: str) -> None:
        self.crop_policy = crop_policy
        self.crops: list[torch.Tensor] = []
        self.infos: list[torch.Tensor] = []

    def add(
        self, image_rgb: np.ndarray, box: np.ndarray | None = None, camera: CameraIntrinsics | None = None
    ) -> None:
        """One crop around `box` (default: the whole frame); `camera` defaults to HMR 2.0's guess."""
        H, W = image_rgb.shape[:2]
        box = np.array([0.0, 0.0, W, H]) if box is None else np.asarray(box, dtype=np.float64)
        batch = crop_persons(image_rgb, box[None], self.crop_policy)
        self.crops.append(batch.crops)
        centers, sizes = torch.from_numpy(batch.centers), torch.from_numpy(batch.sizes)
        self.infos.append(bbox_info(centers, sizes, camera or default_intrinsics(W, H)))

    def calibration(
        self, joints: torch.Tensor | None = None, joint_set: str = JOINT_SET_SMPL24
    ) -> Calibration:
        if not self.crops:
            raise CalibrationError("the calibration source gave no usable frames")
        return Calibration(torch.cat(self.crops), joints, joint_set, bbox_info=torch.cat(self.infos))


def load_npz(path: Path, crop_policy: str = "hmr2", limit: int | None = None) -> Calibration:
    """The documented npz layout (see the module docstring)."""
    data = open_npz(path, CalibrationError)
    joints = torch.as_tensor(data["joints_3d"], dtype=torch.float32) if "joints_3d" in data else None
    joint_set = str(data["joint_set"]) if "joint_set" in data else JOINT_SET_SMPL24
    if joints is not None and (joints.dim() != 3 or joints.shape[-1] != 3):
        raise CalibrationError(f"{path}: joints_3d must be (N, J, 3), got {tuple(joints.shape)}")
    if "crops" in data:
        crops = data["crops"][:limit]
        if crops.ndim != 4 or crops.shape[1:] != (CROP_SIZE, CROP_SIZE, 3) or crops.dtype != np.uint8:
            raise CalibrationError(
                f"{path}: crops must be (N, 256, 256, 3) uint8 RGB, got {crops.shape} {crops.dtype}"
            )
        n = len(crops)
        # A ready crop is its own image: centre and size of the 256 square, default focal.
        info = bbox_info(
            torch.full((n, 2), CROP_SIZE / 2.0),
            torch.full((n,), float(CROP_SIZE)),
            default_intrinsics(CROP_SIZE, CROP_SIZE),
        )
        calib = Calibration(_normalise(crops), joints, joint_set, bbox_info=info)
    elif "images" in data and "boxes" in data:
        images, boxes = data["images"][:limit], data["boxes"][:limit]
        if images.ndim != 4 or images.shape[-1] != 3 or boxes.shape != (len(images), 4):
            raise CalibrationError(
                f"{path}: images must be (N, H, W, 3) with boxes (N, 4); got {images.shape} and {boxes.shape}"
            )
        collector = _CropCollector(crop_policy)
        for image, box in zip(tqdm(images, desc="cropping", unit="frame"), boxes, strict=True):
            collector.add(image, box)
        calib = collector.calibration(joints, joint_set)
    else:
        raise CalibrationError(f"{path}: needs 'crops', or 'images' and 'boxes' (found {sorted(data.files)})")
    if joints is not None:
        calib.joints = joints[: len(calib)]
        if len(calib.joints) != len(calib):
            raise CalibrationError(f"{path}: {len(joints)} joint sets for {len(calib)} crops")
    return calib


def load_labelled_set(path: Path, crop_policy: str = "hmr2", limit: int | None = None) -> Calibration:
    """Usable persons of a labelled data-set folder (at most `limit`), with their SMPL joints."""
    dataset = read_labelled_set(path)
    rows = usable_persons(dataset)[:limit]
    collector = _CropCollector(crop_policy)
    for row in tqdm(rows, desc="cropping", unit="person"):
        index = int(dataset.image_index[row])
        image = dataset.image_rgb(index)
        K = dataset.intrinsics[index]
        h, w = image.shape[:2]
        camera = CameraIntrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), w, h)
        collector.add(image, dataset.boxes[row], camera)
    joints = torch.as_tensor(dataset.joints_3d[rows], dtype=torch.float32)
    return collector.calibration(joints, JOINT_SET_SMPL24)


def _folder_frames(path: Path) -> Iterator[np.ndarray]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CalibrationError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    for file in files:
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise CalibrationError(f"cannot decode image {file}")
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _video_frames(path: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise CalibrationError(f"cannot open video {path}")
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _bag_frames(path: Path, topic: str | None) -> Iterator[np.ndarray]:
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError

    from fasthmr_ros.pipeline.images import decode_image_message
    from fasthmr_ros.ros.messages.typestore import COMPRESSED_IMAGE, IMAGE, get_typestore

    typestore = get_typestore()
    try:
        reader = Reader(path)
        reader.open()
    except (FileNotFoundError, ReaderError, OSError, KeyError, ValueError) as exc:
        raise CalibrationError(f"cannot open {path} as a rosbag2: {exc}") from exc
    try:
        image_types = (IMAGE, COMPRESSED_IMAGE)
        topics = sorted({c.topic for c in reader.connections if c.msgtype in image_types})
        if topic is None and len(topics) != 1:
            raise CalibrationError(f"the bag has image topics {topics or 'none'}: choose one with --topic")
        chosen = topic or topics[0]
        connections = [c for c in reader.connections if c.topic == chosen and c.msgtype in image_types]
        if not connections:
            raise CalibrationError(f"{chosen} is not an image topic of the bag (image topics: {topics})")
        for connection, _, raw in reader.messages(connections=connections):
            yield decode_image_message(typestore.deserialize_cdr(raw, connection.msgtype))
    finally:
        reader.close()


def _is_bag(path: Path) -> bool:
    return path.suffix in BAG_SUFFIXES or (path.is_dir() and (path / "metadata.yaml").is_file())


PersonBox = Callable[[np.ndarray], np.ndarray | None]  # RGB frame -> (4,) box, or None: skip it


def best_person_box(detector: YoloOnnxDetector) -> PersonBox:
    """A detector's highest-scoring person box per frame (None when it finds nobody)."""

    def box(frame: np.ndarray) -> np.ndarray | None:
        found = detector.detect(frame)
        return max(found, key=lambda d: d.score).bbox if found else None

    return box


def load_calibration(
    path: str | Path,
    crop_policy: str = "hmr2",
    limit: int | None = 64,
    every: int = 1,
    topic: str | None = None,
    person_box: PersonBox | None = None,
) -> Calibration:
    """Any supported source -> Calibration.

    Unlabelled sources keep every `every`-th frame, at most `limit` of them; with `person_box`
    each frame is cropped around the box it returns and skipped when it returns None.
    """
    path = Path(path)
    if not path.exists():
        raise CalibrationError(f"calibration data not found: {path}")
    if every < 1:
        raise CalibrationError(f"--every must be >= 1, got {every}")
    if path.suffix == ".npz":
        return load_npz(path, crop_policy, limit)
    if is_labelled_set(path):
        return load_labelled_set(path, crop_policy, limit)
    if _is_bag(path):
        frames = _bag_frames(path, topic)
    elif path.is_dir():
        frames = _folder_frames(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        frames = _video_frames(path)
    else:
        raise CalibrationError(
            f"{path}: not an npz, image folder, video ({', '.join(VIDEO_SUFFIXES)}) or rosbag2"
        )
    collector = _CropCollector(crop_policy)
    skipped = 0
    with tqdm(total=limit, desc="reading calibration frames", unit="frame") as bar:
        for index, frame in enumerate(frames):
            if index % every:
                continue
            box = None if person_box is None else person_box(frame)
            if person_box is not None and box is None:
                skipped += 1
                continue
            collector.add(frame, box)
            bar.update()
            if limit is not None and len(collector.crops) >= limit:
                break
    if skipped:
        log.info("%d calibration frames had no detected person and were skipped", skipped)
    return collector.calibration()
