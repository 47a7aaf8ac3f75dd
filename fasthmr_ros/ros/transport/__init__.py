"""Transports: how the node gets ROS messages in and out (DDS without ROS here; rclpy on robots,
in `fasthmr_ros.ros.transport.rclpy`, imported only where rclpy is installed)."""

from fasthmr_ros.ros.transport.base import DEFAULT, LATCHED, SENSOR_DATA, Publisher, QosProfile, Transport
from fasthmr_ros.ros.transport.dds import DdsTransport

__all__ = ["DEFAULT", "LATCHED", "SENSOR_DATA", "DdsTransport", "Publisher", "QosProfile", "Transport"]
