"""A short generated rosbag2 for the embedded-default demo: stand-in people walking past a camera.

Topics (what a camera driver plus an upstream person detector would record):
- `/camera/image_raw` sensor_msgs/Image rgb8, `/camera/camera_info` sensor_msgs/CameraInfo;
- `/detections` vision_msgs/Detection2DArray with the bodies' true boxes (class "person"), so the
  demo exercises upstream boxes and the tracker without an ONNX detector.
The people are generated mannequins (`fasthmr_ros.samples`), NOT real footage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag2 import Writer
from tqdm import tqdm

from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag import BAG_VERSION, STORAGES, BagError
from fasthmr_ros.ros.bag_input import LOG_DELAY_NS, CameraTopics, camera_info_message, image_message
from fasthmr_ros.ros.convert import header
from fasthmr_ros.ros.typestore import CAMERA_INFO, DETECTION_2D_ARRAY, IMAGE, get_typestore
from fasthmr_ros.samples import person_boxes, render_person_image, sample_camera, sample_motion

DETECTIONS_TOPIC = "/detections"
START_NS = 1_700_000_000_000_000_000  # a fixed, realistic epoch stamp so runs are reproducible


def detections_message(
    boxes: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    scores: Sequence[float] | None = None,
    class_ids: Sequence[str] | None = None,
    store: str = "jazzy",
) -> Any:
    """(N, 4) x1,y1,x2,y2 boxes -> vision_msgs/Detection2DArray (default: score 1, class "person")."""
    types = get_typestore(store).types
    identity = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = [1.0] * len(boxes) if scores is None else scores
    class_ids = ["person"] * len(boxes) if class_ids is None else class_ids
    detections = []
    for (x1, y1, x2, y2), score, class_id in zip(boxes, scores, class_ids, strict=True):
        result = types["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=types["vision_msgs/msg/ObjectHypothesis"](class_id=class_id, score=float(score)),
            pose=types["geometry_msgs/msg/PoseWithCovariance"](pose=identity, covariance=np.zeros(36)),
        )
        centre = types["vision_msgs/msg/Pose2D"](
            position=types["vision_msgs/msg/Point2D"](x=(x1 + x2) / 2, y=(y1 + y2) / 2), theta=0.0
        )
        bbox = types["vision_msgs/msg/BoundingBox2D"](center=centre, size_x=x2 - x1, size_y=y2 - y1)
        detections.append(
            types["vision_msgs/msg/Detection2D"](
                header=header(stamp_ns, frame_id, store), results=[result], bbox=bbox, id=""
            )
        )
    return types[DETECTION_2D_ARRAY](header=header(stamp_ns, frame_id, store), detections=detections)


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
    path = Path(path)
    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose one of {sorted(STORAGES)}")
    if path.exists():
        raise BagError(f"{path} exists already; rosbag2 writers never overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    store = get_typestore()
    topics = CameraTopics()
    K = sample_camera(width, height)
    camera = CameraIntrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height)
    motion = sample_motion(num_frames=num_frames, num_persons=num_persons, seed=seed, fps=fps)
    with Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage]) as writer:
        image_conn = writer.add_connection(topics.image, IMAGE, typestore=store)
        info_conn = writer.add_connection(topics.camera_info, CAMERA_INFO, typestore=store)
        det_conn = writer.add_connection(DETECTIONS_TOPIC, DETECTION_2D_ARRAY, typestore=store)
        for i in tqdm(range(num_frames), desc="sample bag", unit="frame", disable=not progress):
            stamp = START_NS + round(i * 1e9 / fps)
            persons = motion.persons(i)
            rgb = cv2.cvtColor(render_person_image(width, height, K, persons), cv2.COLOR_BGR2RGB)
            info = camera_info_message(camera, stamp, topics.frame_id)
            image = image_message(rgb, stamp, topics.frame_id)
            dets = detections_message(person_boxes(width, height, K, persons), stamp, topics.frame_id)
            logged = stamp + LOG_DELAY_NS
            writer.write(info_conn, logged, store.serialize_cdr(info, CAMERA_INFO))
            writer.write(image_conn, logged + 1, store.serialize_cdr(image, IMAGE))
            writer.write(det_conn, logged + 20_000_000, store.serialize_cdr(dets, DETECTION_2D_ARRAY))
    return path
