"""The rosbag2 tool (`fasthmr bag`): topic choice, the processor, its summary, the preview video."""

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
    "PreviewVideo",
    "choose_cameras",
    "choose_topics",
]
