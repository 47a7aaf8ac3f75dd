"""Camera recordings written as rosbag2: the generated demo bag and any (stamp, image) sequence.

One writer (`write_camera_bag`) stamps messages as a camera driver and recorder would: header
stamp = capture time, log time = stamp plus a small transport delay, a CameraInfo with the same
stamp as its image, and optionally the upstream detector's boxes 20 ms later.

The sample bag's topics (what a camera driver plus an upstream person detector would record):
- `/camera/image_raw` sensor_msgs/Image rgb8, `/camera/camera_info` sensor_msgs/CameraInfo;
- `/detections` vision_msgs/Detection2DArray with the bodies' true boxes (class "person"), so the
  demo exercises upstream boxes and the tracker without an ONNX detector.
The people are generated mannequins (`fasthmr_ros.samples.scene`), NOT real footage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import Writer
from tqdm import tqdm

from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag import BAG_VERSION, STORAGES, BagError
from fasthmr_ros.ros.messages.builders import camera_info_message, detections_message, image_message
from fasthmr_ros.ros.messages.typestore import (
    CAMERA_INFO,
    COMPRESSED_IMAGE,
    DETECTION_2D_ARRAY,
    IMAGE,
    get_typestore,
)
from fasthmr_ros.samples.scene import person_boxes, render_person_image, sample_camera, sample_motion

DETECTIONS_TOPIC = "/detections"
START_NS = 1_700_000_000_000_000_000  # a fixed, realistic epoch stamp so runs are reproducible
DETECTION_DELAY_NS = 20_000_000  # an upstream detector's boxes arrive after the image
LOG_DELAY_NS = 2_000_000  # capture -> recorder, as a real driver would show


@dataclass
class CameraTopics:
    """The topic names and frame of one camera, as its driver records them."""

    image: str = "/camera/image_raw"
    camera_info: str = "/camera/camera_info"
    frame_id: str = "camera_optical_frame"


@dataclass
class CameraFrame:
    """One recorded frame: capture stamp, RGB pixels and, optionally, the detector's boxes."""

    stamp_ns: int
    rgb: np.ndarray  # (H, W, 3) uint8
    boxes: np.ndarray | None = None  # (N, 4) x1, y1, x2, y2 pixels


def write_camera_bag(
    path: str | Path,
    frames: Iterable[CameraFrame | tuple[int, np.ndarray]],
    camera: CameraIntrinsics,
    storage: str = "mcap",
    encoding: str = "rgb8",
    topics: CameraTopics | None = None,
    detections_topic: str | None = None,
    store: str = "jazzy",
) -> int:
    """Write frames (with a CameraInfo each, and their boxes on `detections_topic` when given)
    into a new rosbag2; returns the number of frames. Plain (stamp_ns, rgb) pairs are frames
    without boxes."""
    path = Path(path)
    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose one of {sorted(STORAGES)}")
    if path.exists():
        raise BagError(f"{path} exists already; rosbag2 writers never overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    topics = topics or CameraTopics()
    typestore = get_typestore(store)
    image_type = COMPRESSED_IMAGE if encoding in ("jpeg", "png") else IMAGE
    count = 0
    with Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage]) as writer:
        image_conn = writer.add_connection(topics.image, image_type, typestore=typestore)
        info_conn = writer.add_connection(topics.camera_info, CAMERA_INFO, typestore=typestore)
        det_conn = None
        if detections_topic is not None:
            det_conn = writer.add_connection(detections_topic, DETECTION_2D_ARRAY, typestore=typestore)
        for item in frames:
            frame = item if isinstance(item, CameraFrame) else CameraFrame(*item)
            logged = frame.stamp_ns + LOG_DELAY_NS
            info = camera_info_message(camera, frame.stamp_ns, topics.frame_id, store)
            writer.write(info_conn, logged, typestore.serialize_cdr(info, CAMERA_INFO))
            image = image_message(frame.rgb, frame.stamp_ns, topics.frame_id, encoding, store)
            writer.write(image_conn, logged + 1, typestore.serialize_cdr(image, image_type))
            if det_conn is not None and frame.boxes is not None:
                dets = detections_message(frame.boxes, frame.stamp_ns, topics.frame_id, store=store)
                raw = typestore.serialize_cdr(dets, DETECTION_2D_ARRAY)
                writer.write(det_conn, logged + DETECTION_DELAY_NS, raw)
            count += 1
    return count


def write_sample_bag(
    path: str | Path,
    num_frames: int = 30,
    num_persons: int = 2,
    width: int = 640,
    height: int = 360,
    fps: float = 15.0,
    storage: str = "mcap",
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Render `num_frames` of walking stand-in people into a new rosbag2 at `path`."""
    K = sample_camera(width, height)
    camera = CameraIntrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height)
    motion = sample_motion(num_frames=num_frames, num_persons=num_persons, seed=seed, fps=fps)

    def frames() -> Iterable[CameraFrame]:
        for i in tqdm(range(num_frames), desc="sample bag", unit="frame", disable=not progress):
            persons = motion.persons(i)
            rgb = cv2.cvtColor(render_person_image(width, height, K, persons), cv2.COLOR_BGR2RGB)
            boxes = person_boxes(width, height, K, persons)
            yield CameraFrame(START_NS + round(i * 1e9 / fps), rgb, boxes)

    write_camera_bag(path, frames(), camera, storage, detections_topic=DETECTIONS_TOPIC)
    return Path(path)
