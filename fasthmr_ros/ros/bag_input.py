"""Writing camera recordings as rosbag2 (Image or CompressedImage + CameraInfo).

Used by the embedded-default demo (a generated sample bag) and by tests that need real bag
files. Messages are stamped like a camera driver stamps them: header stamp = capture time, log
time = stamp plus a small transport delay, CameraInfo with the same stamp as its image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag2 import Writer

from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.bag import BAG_VERSION, STORAGES, BagError
from fasthmr_ros.ros.convert import header
from fasthmr_ros.ros.typestore import CAMERA_INFO, COMPRESSED_IMAGE, IMAGE, get_typestore

LOG_DELAY_NS = 2_000_000  # capture -> recorder, as a real driver would show


@dataclass
class CameraTopics:
    image: str = "/camera/image_raw"
    camera_info: str = "/camera/camera_info"
    frame_id: str = "camera_optical_frame"


def image_message(
    rgb: np.ndarray, stamp_ns: int, frame_id: str, encoding: str = "rgb8", store: str = "jazzy"
) -> Any:
    """(H, W, 3) RGB uint8 -> sensor_msgs/Image (rgb8 or bgr8) or CompressedImage ("jpeg"/"png")."""
    types = get_typestore(store).types
    hdr = header(stamp_ns, frame_id, store)
    if encoding in ("jpeg", "png"):
        ok, data = cv2.imencode(
            f".{'jpg' if encoding == 'jpeg' else 'png'}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        )
        if not ok:
            raise ValueError(f"OpenCV could not encode a {encoding} image")
        return types[COMPRESSED_IMAGE](header=hdr, format=encoding, data=data.reshape(-1))
    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported encoding {encoding!r} (rgb8, bgr8, jpeg, png)")
    pixels = rgb if encoding == "rgb8" else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    h, w = rgb.shape[:2]
    data = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1)
    return types[IMAGE](
        header=hdr, height=h, width=w, encoding=encoding, is_bigendian=0, step=w * 3, data=data
    )


def camera_info_message(camera: CameraIntrinsics, stamp_ns: int, frame_id: str, store: str = "jazzy") -> Any:
    """Pinhole intrinsics -> sensor_msgs/CameraInfo (no distortion, identity rectification)."""
    types = get_typestore(store).types
    k = np.array([camera.fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0, 1], dtype=np.float64)
    p = np.array([camera.fx, 0, camera.cx, 0, 0, camera.fy, camera.cy, 0, 0, 0, 1, 0], dtype=np.float64)
    roi = types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return types[CAMERA_INFO](
        header=header(stamp_ns, frame_id, store),
        height=camera.height,
        width=camera.width,
        distortion_model="plumb_bob",
        d=np.zeros(5, dtype=np.float64),
        k=k,
        r=np.eye(3, dtype=np.float64).reshape(-1),
        p=p,
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def write_camera_bag(
    path: str | Path,
    frames: Iterable[tuple[int, np.ndarray]],
    camera: CameraIntrinsics,
    storage: str = "mcap",
    encoding: str = "rgb8",
    topics: CameraTopics | None = None,
    store: str = "jazzy",
) -> int:
    """Write (stamp_ns, rgb) frames with a CameraInfo each; returns the number of frames."""
    topics = topics or CameraTopics()
    typestore = get_typestore(store)
    image_type = COMPRESSED_IMAGE if encoding in ("jpeg", "png") else IMAGE
    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose one of {sorted(STORAGES)}")
    count = 0
    with Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage]) as writer:
        image_conn = writer.add_connection(topics.image, image_type, typestore=typestore)
        info_conn = writer.add_connection(topics.camera_info, CAMERA_INFO, typestore=typestore)
        for stamp_ns, rgb in frames:
            info = camera_info_message(camera, stamp_ns, topics.frame_id, store)
            writer.write(info_conn, stamp_ns + LOG_DELAY_NS, typestore.serialize_cdr(info, CAMERA_INFO))
            image = image_message(rgb, stamp_ns, topics.frame_id, encoding, store)
            writer.write(image_conn, stamp_ns + LOG_DELAY_NS + 1, typestore.serialize_cdr(image, image_type))
            count += 1
    return count
