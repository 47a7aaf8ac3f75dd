"""The `hri_msgs` (ROS4HRI, REP-155) definitions this package publishes, for stores that lack them.

rosbags ships no hri_msgs, and hri_msgs is not on PyPI; these texts give the field layout of
the ROS 2 hri_msgs release so the bag tool and the DDS transport write byte-compatible CDR and
the same RIHS01 type hashes as a ROS 2 build of hri_msgs. Only the fields matter for the wire
format; the constants are kept because they are part of the definition (and of its hash).
"""

from __future__ import annotations

_SKELETON_POINTS = [
    "NOSE",
    "NECK",
    "RIGHT_SHOULDER",
    "RIGHT_ELBOW",
    "RIGHT_WRIST",
    "LEFT_SHOULDER",
    "LEFT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_HIP",
    "RIGHT_KNEE",
    "RIGHT_ANKLE",
    "LEFT_HIP",
    "LEFT_KNEE",
    "LEFT_ANKLE",
    "LEFT_EYE",
    "RIGHT_EYE",
    "LEFT_EAR",
    "RIGHT_EAR",
]

# Skeleton2D's 18 keypoints (OpenPose's COCO order), lower-case names in message order.
SKELETON2D_POINTS: list[str] = [name.lower() for name in _SKELETON_POINTS]

HRI_MSGS: dict[str, str] = {
    "hri_msgs/msg/IdsList": "std_msgs/Header header\nstring[] ids\n",
    "hri_msgs/msg/NormalizedPointOfInterest2D": "float32 x\nfloat32 y\nfloat32 c\n",
    "hri_msgs/msg/NormalizedRegionOfInterest2D": (
        "std_msgs/Header header\nfloat32 xmin\nfloat32 ymin\nfloat32 xmax\nfloat32 ymax\nfloat32 c\n"
    ),
    "hri_msgs/msg/Skeleton2D": (
        "std_msgs/Header header\n"
        + "".join(f"uint8 {name} = {i}\n" for i, name in enumerate(_SKELETON_POINTS))
        + f"hri_msgs/NormalizedPointOfInterest2D[{len(_SKELETON_POINTS)}] skeleton\n"
    ),
}
