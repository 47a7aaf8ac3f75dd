"""Camera messages as a driver publishes them (Image or CompressedImage + CameraInfo).

The bag writer (`fasthmr_ros.samples.bag`), the live-node soak run and tests build their input
messages here. `LOG_DELAY_NS` is the capture -> recorder delay a real driver shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.ros.messages.convert import header
from fasthmr_ros.ros.messages.typestore import CAMERA_INFO, COMPRESSED_IMAGE, IMAGE, get_typestore

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
