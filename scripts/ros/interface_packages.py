"""Write ROS 2 interface packages (package.xml, CMakeLists.txt, msg/) for message packages the
PyPI wheels lack, from the definitions fasthmr_ros registers for rosbags and DDS.

`scripts/setup.sh --ros` builds what this writes with CMake into .venv, so the rclpy node has
`tf2_msgs` (for target_frame) and `hri_msgs` (for the ROS4HRI outputs) there too. The packages
hold only the messages this project uses; on a ROS 2 install the real packages are used.

    python scripts/ros/interface_packages.py OUT_DIR PACKAGE...
"""

from __future__ import annotations

import sys
from pathlib import Path

from fasthmr_ros.ros.hri_msgs_defs import HRI_MSGS
from fasthmr_ros.ros.typestore import TF_MESSAGE, get_typestore

DEPENDENCIES = ("std_msgs", "geometry_msgs")


def definitions(package: str) -> dict[str, str]:
    """Message name -> .msg text of one package."""
    if package == "hri_msgs":
        return {name.rsplit("/", 1)[1]: text for name, text in HRI_MSGS.items()}
    if package == "tf2_msgs":
        # rosbags' own definition, without the dependency texts appended after the separator.
        text = get_typestore().generate_msgdef(TF_MESSAGE, ros_version=2)[0].split("\n====")[0]
        return {"TFMessage": text.strip() + "\n"}
    raise SystemExit(f"no definitions for {package}")


def write_package(root: Path, package: str) -> None:
    msgs = definitions(package)
    (root / package / "msg").mkdir(parents=True, exist_ok=True)
    for name, text in msgs.items():
        (root / package / "msg" / f"{name}.msg").write_text(text, encoding="utf-8")
    deps = "\n".join(f"  <depend>{d}</depend>" for d in DEPENDENCIES)
    (root / package / "package.xml").write_text(
        f"""<?xml version="1.0"?>
<package format="3">
  <name>{package}</name>
  <version>0.0.0</version>
  <description>The {package} messages fasthmr_ros uses, for ROS 2 from PyPI wheels.</description>
  <maintainer email="maintainers@fasthmr-ros.invalid">fasthmr_ros maintainers</maintainer>
  <license>Apache-2.0</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
{deps}
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
""",
        encoding="utf-8",
    )
    files = " ".join(f'"msg/{name}.msg"' for name in msgs)
    finds = "\n".join(f"find_package({d} REQUIRED)" for d in DEPENDENCIES)
    (root / package / "CMakeLists.txt").write_text(
        f"""cmake_minimum_required(VERSION 3.8)
project({package})
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
{finds}
rosidl_generate_interfaces(${{PROJECT_NAME}} {files} DEPENDENCIES {" ".join(DEPENDENCIES)})
include("${{FASTHMR_SOURCE_DIR}}/cmake/resolve_wheel_include_dirs.cmake")
fasthmr_resolve_wheel_include_dirs()
ament_package()
""",
        encoding="utf-8",
    )


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    for package in argv[1:]:
        write_package(root, package)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
