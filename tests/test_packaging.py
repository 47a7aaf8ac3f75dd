"""The ROS package manifest and build file agree with the code and the message folder."""

from __future__ import annotations

import re
from pathlib import Path

from catkin_pkg.package import parse_package

ROOT = Path(__file__).resolve().parents[1]
ROS_DEPS = {
    "rclpy",
    "sensor_msgs",
    "vision_msgs",
    "visualization_msgs",
    "shape_msgs",
    "geometry_msgs",
    "std_msgs",
    "diagnostic_msgs",
    "tf2_msgs",
    "lifecycle_msgs",
    "rcl_interfaces",
}


def test_package_xml_is_valid_format_3_with_the_node_dependencies() -> None:
    pkg = parse_package(str(ROOT / "package.xml"))
    pkg.validate()
    assert pkg.package_format == 3
    assert pkg.name == "fasthmr_ros"
    deps = {d.name for d in pkg.exec_depends + pkg.build_depends + pkg.buildtool_depends}
    assert deps >= ROS_DEPS, f"missing: {sorted(ROS_DEPS - deps)}"
    assert {"rosidl_default_generators", "rosidl_default_runtime"} <= deps
    assert "rosidl_interface_packages" in {g.name for g in pkg.member_of_groups}
    assert pkg.get_build_type() == "ament_cmake"


def test_cmake_generates_every_message_and_avoids_the_python_macro() -> None:
    cmake = (ROOT / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"msg/(\w+\.msg)"', cmake))
    on_disk = {p.name for p in (ROOT / "msg").glob("*.msg")}
    assert listed == on_disk
    code_lines = [ln for ln in cmake.splitlines() if not ln.lstrip().startswith("#")]
    assert not any("ament_python_install_package(" in ln for ln in code_lines)
    for script in re.findall(r"scripts/ros/(\w+)", cmake):
        assert (ROOT / "scripts" / "ros" / script).is_file(), script
