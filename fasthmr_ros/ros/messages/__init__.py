"""Message definitions (this package's .msg files plus the vision_msgs / hri_msgs we use, in one
rosbags typestore) and the builders that turn pipeline results into messages."""

from fasthmr_ros.ros.messages.builders import (
    camera_from_info,
    detections_from_msg,
    frame_to_msg,
    header,
    time_to_ns,
)
from fasthmr_ros.ros.messages.markers import MarkerStyle, frame_markers
from fasthmr_ros.ros.messages.typestore import DEFAULT_STORE, STORES, get_typestore

__all__ = [
    "DEFAULT_STORE",
    "STORES",
    "MarkerStyle",
    "camera_from_info",
    "camera_info_message",
    "detections_from_msg",
    "detections_message",
    "diagnostics_message",
    "frame_markers",
    "frame_to_msg",
    "get_typestore",
    "header",
    "image_message",
    "tf_message",
    "time_to_ns",
]
