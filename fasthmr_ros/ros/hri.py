"""ROS4HRI (REP-155) body outputs and per-person TF frames, built from one frame's results.

REP-155 names every body by a string id and publishes, per body, under `/humans/bodies/<id>/`:
`roi` (NormalizedRegionOfInterest2D: the box in [0, 1] image coordinates), `skeleton2d`
(Skeleton2D: 18 OpenPose-COCO keypoints in [0, 1]) and `joint_states` (sensor_msgs/JointState),
the list of bodies currently seen on `/humans/bodies/tracked` (IdsList), and a TF frame
`body_<id>`. Here a body id is `b<track id>` (`<camera>_<track id>` when several cameras feed
one node, so ids never collide).

Joint states: SMPL has no URDF; each of the 23 SMPL body joints is given as three revolute
angles `<joint>_rx`, `_ry`, `_rz` (radians), the intrinsic x-y-z Euler angles of its rotation
relative to its parent — what a chain of three revolute joints per SMPL joint would take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.models.joints import JOINT_NAMES, PELVIS_INDEX, SMPL_JOINT_NAMES
from fasthmr_ros.pipeline.result import FrameResult, PersonResult
from fasthmr_ros.ros import convert
from fasthmr_ros.ros.hri_msgs_defs import SKELETON2D_POINTS
from fasthmr_ros.ros.typestore import (
    DEFAULT_STORE,
    IDS_LIST,
    JOINT_STATE,
    REGION_OF_INTEREST,
    SKELETON_2D,
    get_typestore,
)

TRACKED_TOPIC = "/humans/bodies/tracked"
OUTPUT_TYPES = (IDS_LIST, REGION_OF_INTEREST, SKELETON_2D, JOINT_STATE)
BODY_TOPICS = {"roi": REGION_OF_INTEREST, "skeleton2d": SKELETON_2D, "joint_states": JOINT_STATE}
JOINT_STATE_NAMES = [f"{joint}_r{axis}" for joint in SMPL_JOINT_NAMES[1:] for axis in "xyz"]


def body_id(track_id: int, camera: str = "") -> str:
    """The REP-155 body id of a track: `b<track>`, or `<camera>_<track>` with a camera name. It is
    a topic name token (/humans/bodies/<id>/...), and ROS 2 refuses tokens that start with a digit."""
    return f"{camera}_{track_id}" if camera else f"b{track_id}"


def body_topic(body: str, kind: str) -> str:
    """`/humans/bodies/<id>/<kind>` for kind in BODY_TOPICS."""
    return f"/humans/bodies/{body}/{kind}"


def _unit(value: float) -> float:
    return float(min(max(value, 0.0), 1.0))


def _skeleton_index(joint_set: str) -> list[int | None]:
    names = JOINT_NAMES.get(joint_set, ())
    return [names.index(n) if n in names else None for n in SKELETON2D_POINTS]


def roi_msg(person: PersonResult, frame: FrameResult, hdr: Any, store: str = DEFAULT_STORE) -> Any:
    x1, y1, x2, y2 = (float(v) for v in person.bbox)
    return get_typestore(store).types[REGION_OF_INTEREST](
        header=hdr,
        xmin=_unit(x1 / frame.width),
        ymin=_unit(y1 / frame.height),
        xmax=_unit(x2 / frame.width),
        ymax=_unit(y2 / frame.height),
        c=_unit(person.score),
    )


def skeleton_msg(person: PersonResult, frame: FrameResult, hdr: Any, store: str = DEFAULT_STORE) -> Any:
    """Keypoints outside the image, or missing from the joint set, have confidence 0."""
    types = get_typestore(store).types
    Point = types["hri_msgs/msg/NormalizedPointOfInterest2D"]
    joints = np.asarray(person.joints2d, np.float64).reshape(-1, 2)
    points = []
    for index in _skeleton_index(person.joint_set):
        if index is None or index >= len(joints):
            points.append(Point(x=0.0, y=0.0, c=0.0))
            continue
        x, y = joints[index] / (frame.width, frame.height)
        inside = bool(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0)
        points.append(Point(x=_unit(x), y=_unit(y), c=_unit(person.score) if inside else 0.0))
    return types[SKELETON_2D](header=hdr, skeleton=points)


def joint_state_msg(person: PersonResult, hdr: Any, store: str = DEFAULT_STORE) -> Any:
    rotations = np.asarray(person.body_pose, np.float64).reshape(-1, 3, 3)
    angles = Rotation.from_matrix(rotations).as_euler("XYZ").reshape(-1)
    return get_typestore(store).types[JOINT_STATE](
        header=hdr,
        name=list(JOINT_STATE_NAMES),
        position=angles.astype(np.float64),
        velocity=np.zeros(0, np.float64),
        effort=np.zeros(0, np.float64),
    )


def hri_messages(
    frame: FrameResult, ids: Sequence[str], image_frame_id: str, store: str = DEFAULT_STORE
) -> list[tuple[str, str, Any]]:
    """(topic, type, message) for every body of `frame` (ids in person order): roi and skeleton2d
    carry the image's frame (they are image measurements), joint_states has no frame. The
    tracked list is not included: with several cameras it is the union of their bodies, see
    `tracked_msg`."""
    image_header = convert.header(frame.stamp_ns, image_frame_id, store)
    bare_header = convert.header(frame.stamp_ns, "", store)
    out = []
    for person, body in zip(frame.persons, ids, strict=True):
        out.append((body_topic(body, "roi"), REGION_OF_INTEREST, roi_msg(person, frame, image_header, store)))
        out.append(
            (body_topic(body, "skeleton2d"), SKELETON_2D, skeleton_msg(person, frame, image_header, store))
        )
        out.append(
            (body_topic(body, "joint_states"), JOINT_STATE, joint_state_msg(person, bare_header, store))
        )
    return out


def tracked_msg(stamp_ns: int, frame_id: str, ids: Sequence[str], store: str = DEFAULT_STORE) -> Any:
    return get_typestore(store).types[IDS_LIST](
        header=convert.header(stamp_ns, frame_id, store), ids=list(ids)
    )


def body_transforms(frame: FrameResult, child_frames: Sequence[str], store: str = DEFAULT_STORE) -> list[Any]:
    """geometry_msgs/TransformStamped per person: pelvis position and SMPL root orientation, a
    child of the frame the results are expressed in (`frame.frame_id`)."""
    t = get_typestore(store).types
    out = []
    for person, child in zip(frame.persons, child_frames, strict=True):
        joints = np.asarray(person.joints3d, dtype=np.float64).reshape(-1, 3)
        index = PELVIS_INDEX.get(person.joint_set)
        origin = joints[index] if index is not None and index < len(joints) else person.transl
        x, y, z, w = Rotation.from_matrix(np.asarray(person.global_orient, np.float64)).as_quat()
        out.append(
            t["geometry_msgs/msg/TransformStamped"](
                header=convert.header(frame.stamp_ns, frame.frame_id, store),
                child_frame_id=child,
                transform=t["geometry_msgs/msg/Transform"](
                    translation=t["geometry_msgs/msg/Vector3"](
                        x=float(origin[0]), y=float(origin[1]), z=float(origin[2])
                    ),
                    rotation=t["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
                ),
            )
        )
    return out
