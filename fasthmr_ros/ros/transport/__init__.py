"""Transports: how the node gets ROS messages in and out (rclpy on robots, DDS without ROS)."""
