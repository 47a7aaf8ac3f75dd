"""The rosbag2 tool (`fasthmr bag`): topic choice, the processor, its summary, the preview video,
and the camera messages a driver records (for sample bags and tests of the tool)."""

from fasthmr_ros.ros.bag.input import CameraTopics, camera_info_message, image_message
from fasthmr_ros.ros.bag.preview import PreviewVideo
from fasthmr_ros.ros.bag.processor import BAG_VERSION, STORAGES, BagProcessor
from fasthmr_ros.ros.bag.summary import BagSummary
from fasthmr_ros.ros.bag.topics import BagError, choose_cameras, choose_topics

__all__ = [
    "BAG_VERSION",
    "STORAGES",
    "BagError",
    "BagProcessor",
    "BagSummary",
    "CameraTopics",
    "PreviewVideo",
    "camera_info_message",
    "choose_cameras",
    "choose_topics",
    "image_message",
]
