"""Camera topics as a driver records them: the topic names and frame of one camera, and the
capture -> recorder delay a real driver shows (`LOG_DELAY_NS`). The messages themselves come
from `fasthmr_ros.ros.messages.builders`."""

from __future__ import annotations

from dataclasses import dataclass

LOG_DELAY_NS = 2_000_000  # capture -> recorder, as a real driver would show


@dataclass
class CameraTopics:
    image: str = "/camera/image_raw"
    camera_info: str = "/camera/camera_info"
    frame_id: str = "camera_optical_frame"
