"""One rosbags typestore that knows the standard ROS 2 messages, vision_msgs, hri_msgs and ours.

Why rosbags everywhere: the bag tool and the DDS transport serialise with the same definitions
(our `msg/*.msg` texts), so a bag written here and a live topic carry byte-identical CDR, and
RIHS01 type hashes match what a ROS 2 (Iron or newer) build of this package computes.

Where the .msg files come from: `fasthmr_ros/ros/msg/` is package data. In the source tree it
is a symlink to the top-level `msg/` that rosidl builds from, so there is one copy; wheels and
pip installs copy the files themselves into the package.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_typestore
from rosbags.typesys.store import Typestore

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.messages.hri_msgs_defs import HRI_MSGS
from fasthmr_ros.ros.messages.vision_msgs_defs import VISION_MSGS

# The ROS package our interfaces belong to (the package.xml that runs rosidl on msg/).
MSG_PACKAGE = "fasthmr_ros"
HUMAN_MESH = f"{MSG_PACKAGE}/msg/HumanMesh"
HUMAN_MESH_ARRAY = f"{MSG_PACKAGE}/msg/HumanMeshArray"

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
DETECTION_2D_ARRAY = "vision_msgs/msg/Detection2DArray"
MESH = "shape_msgs/msg/Mesh"
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
TRANSFORM_STAMPED = "geometry_msgs/msg/TransformStamped"
DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
DIAGNOSTIC_STATUS = "diagnostic_msgs/msg/DiagnosticStatus"
KEY_VALUE = "diagnostic_msgs/msg/KeyValue"
JOINT_STATE = "sensor_msgs/msg/JointState"
IDS_LIST = "hri_msgs/msg/IdsList"
REGION_OF_INTEREST = "hri_msgs/msg/NormalizedRegionOfInterest2D"
SKELETON_2D = "hri_msgs/msg/Skeleton2D"

STORES = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}
DEFAULT_STORE = "jazzy"


def msg_dirs() -> list[Path]:
    """Where our .msg files may be, most specific first.

    - `fasthmr_ros/ros/msg/`: package data (a symlink to the top-level msg/ in the source tree,
      real files in a wheel);
    - the source tree's top-level `msg/`;
    - `<prefix>/share/fasthmr_ros/msg/` of every ROS 2 install prefix (colcon installs msg/
      there; the symlink above does not survive CMake's install of the Python tree).
    """
    ros = Path(__file__).resolve().parents[1]  # fasthmr_ros/ros/
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [ros / "msg", ros.parents[1] / "msg", *(p / "share" / MSG_PACKAGE / "msg" for p in prefixes)]


def msg_dir() -> Path:
    """The first of `msg_dirs()` that holds .msg files."""
    for candidate in msg_dirs():
        if candidate.is_dir() and any(candidate.glob("*.msg")):
            return candidate
    searched = ", ".join(str(p) for p in msg_dirs())
    raise FastHMRError(f"cannot find this package's .msg files (searched {searched})")


def own_msg_texts() -> dict[str, str]:
    """`fasthmr_ros/msg/Name` -> .msg text, for every file in `msg_dir()`."""
    files = sorted(msg_dir().glob("*.msg"))
    return {f"{MSG_PACKAGE}/msg/{f.stem}": f.read_text(encoding="utf-8") for f in files}


@cache
def get_typestore(store: str = DEFAULT_STORE) -> Typestore:
    """The ROS 2 `store` ("humble" | "jazzy") typestore with vision_msgs, hri_msgs and ours added.

    Cached: registering parses every definition, and all users share one store per distro.
    """
    if store not in STORES:
        raise FastHMRError(f"unknown ROS 2 message store {store!r}; choose one of {sorted(STORES)}")
    typestore = _rosbags_typestore(STORES[store])
    extra = {}
    for name, text in {**VISION_MSGS, **HRI_MSGS, **own_msg_texts()}.items():
        if name not in typestore.fielddefs:
            extra.update(get_types_from_msg(text, name))
    typestore.register(extra)
    return typestore


def type_hash(typename: str, store: str = DEFAULT_STORE) -> str:
    """ROS 2 type hash `RIHS01_<64 hex>` of a registered type."""
    return get_typestore(store).hash_rihs01(typename)


def get_typestore_from(msgdef: str, msgtype: str) -> Typestore:
    """A store holding only the types of one bag connection's definition text (with its
    dependencies), e.g. to hash a custom type recorded by a distro without type hashes."""
    typestore = _rosbags_typestore(Stores.EMPTY)
    typestore.register(get_types_from_msg(msgdef, msgtype))
    return typestore
