"""ROS 2 glue: `messages` (definitions and builders), `transport` (DDS, rclpy), `node` (the live
node on either transport) and `bag` (the rosbag2 tool). The pipeline knows nothing of ROS."""
