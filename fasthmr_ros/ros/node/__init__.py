"""The live node: `NodeCore` (processing, outputs, statistics), `NodeInputs` (subscriptions and
pairing), parameters and model set-up, on DDS (`DdsNode`) or rclpy
(`fasthmr_ros.ros.node.rclpy_node`, imported only where rclpy is installed)."""

from fasthmr_ros.ros.node.cameras import CameraInput, camera_inputs
from fasthmr_ros.ros.node.core import NodeCore
from fasthmr_ros.ros.node.dds_node import DdsNode
from fasthmr_ros.ros.node.inputs import NodeInputs
from fasthmr_ros.ros.node.pairing import LivePairer, StampIndex
from fasthmr_ros.ros.node.params import SPECS, ParameterError, check_config
from fasthmr_ros.ros.node.setup import LoadedPipeline, load_pipeline

__all__ = [
    "SPECS",
    "CameraInput",
    "DdsNode",
    "LivePairer",
    "LoadedPipeline",
    "NodeCore",
    "NodeInputs",
    "ParameterError",
    "StampIndex",
    "camera_inputs",
    "check_config",
    "load_pipeline",
]
