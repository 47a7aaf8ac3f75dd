"""Every ROS message this package builds or reads, as rosbags message classes: headers, images
and CameraInfo (as a driver publishes them), detections, our HumanMeshArray and Mesh, TF and
diagnostics. (Markers are written straight to CDR in `markers`, ROS4HRI bodies in `hri`.)

Pure functions of their inputs: the bag tool, both node front ends and tests build the same bytes
from the same `FrameResult`. Arrays go in as float32/float64 numpy arrays of the exact field
dtype (rosbags serialises those without per-element Python work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.joints import PELVIS_INDEX
from fasthmr_ros.pipeline.camera import intrinsics_from_k
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages.typestore import (
    CAMERA_INFO,
    COMPRESSED_IMAGE,
    DEFAULT_STORE,
    DETECTION_2D_ARRAY,
    DIAGNOSTIC_ARRAY,
    DIAGNOSTIC_STATUS,
    HUMAN_MESH,
    HUMAN_MESH_ARRAY,
    IMAGE,
    KEY_VALUE,
    MESH,
    TF_MESSAGE,
    TRANSFORM_STAMPED,
    get_typestore,
)


def stamp_ns_to_time(stamp_ns: int, store: str = DEFAULT_STORE) -> Any:
    """Nanoseconds -> builtin_interfaces/Time (floor division, so negative stamps stay exact)."""
    Time = get_typestore(store).types["builtin_interfaces/msg/Time"]
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def time_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (any implementation with sec/nanosec) -> nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def header(stamp_ns: int, frame_id: str, store: str = DEFAULT_STORE) -> Any:
    Header = get_typestore(store).types["std_msgs/msg/Header"]
    return Header(stamp=stamp_ns_to_time(stamp_ns, store), frame_id=frame_id)


def _f32(values: Any, size: int | None = None) -> np.ndarray:
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if size is not None and flat.size != size:
        raise ValueError(f"expected {size} values, got {flat.size}")
    return flat


def person_to_msg(person: PersonResult, with_vertices: bool = False, store: str = DEFAULT_STORE) -> Any:
    """PersonResult -> fasthmr_ros/HumanMesh (layouts as documented in msg/HumanMesh.msg)."""
    types = get_typestore(store).types
    joints3d = np.asarray(person.joints3d, dtype=np.float32).reshape(-1, 3)
    transl = np.asarray(person.transl, dtype=np.float64).reshape(3)
    pelvis_index = PELVIS_INDEX.get(person.joint_set)
    pelvis = joints3d[pelvis_index] if pelvis_index is not None and pelvis_index < len(joints3d) else transl
    vertices = person.vertices if with_vertices and person.vertices is not None else np.zeros(0)
    return types[HUMAN_MESH](
        track_id=int(person.track_id),
        score=float(person.score),
        bbox=_f32(person.bbox, 4),
        global_orient=_f32(person.global_orient, 9),
        body_pose=_f32(person.body_pose, 207),
        betas=_f32(person.betas),
        transl=types["geometry_msgs/msg/Vector3"](x=transl[0], y=transl[1], z=transl[2]),
        pelvis=types["geometry_msgs/msg/Point"](x=float(pelvis[0]), y=float(pelvis[1]), z=float(pelvis[2])),
        pred_cam=_f32(person.pred_cam, 3),
        joint_set=person.joint_set,
        joints3d=_f32(joints3d),
        joints2d=_f32(person.joints2d),
        vertices=_f32(vertices),
        decoder=person.decoder,
    )


def frame_to_msg(frame: FrameResult, with_vertices: bool = False, store: str = DEFAULT_STORE) -> Any:
    """FrameResult -> fasthmr_ros/HumanMeshArray carrying the source image's stamp and frame."""
    cam = frame.camera
    return get_typestore(store).types[HUMAN_MESH_ARRAY](
        header=header(frame.stamp_ns, frame.frame_id, store),
        width=int(frame.width),
        height=int(frame.height),
        fx=float(cam.fx),
        fy=float(cam.fy),
        cx=float(cam.cx),
        cy=float(cam.cy),
        intrinsics_source=cam.source,
        processing_time_ms=float(sum(frame.timings_ms.values())),
        humans=[person_to_msg(p, with_vertices, store) for p in frame.persons],
    )


def mesh_msg(faces: np.ndarray, vertices: np.ndarray | None = None, store: str = DEFAULT_STORE) -> Any:
    """The fixed SMPL triangle list -> shape_msgs/Mesh.

    faces: (F, 3) vertex indices. vertices: (V, 3) template vertices in metres (the SMPL body
    frame, unposed) or None for a triangles-only message; per-frame vertices travel in
    HumanMesh.vertices and index the same way.
    """
    types = get_typestore(store).types
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and faces.min() < 0):
        raise ValueError(f"faces must be (F, 3) non-negative indices, got shape {faces.shape}")
    Triangle, Point = types["shape_msgs/msg/MeshTriangle"], types["geometry_msgs/msg/Point"]
    triangles = [Triangle(vertex_indices=row) for row in faces.astype(np.uint32)]
    points = [] if vertices is None else [Point(x=x, y=y, z=z) for x, y, z in np.asarray(vertices, float)]
    return types[MESH](triangles=triangles, vertices=points)


def detections_message(
    boxes: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    scores: Sequence[float] | None = None,
    class_ids: Sequence[str] | None = None,
    store: str = DEFAULT_STORE,
) -> Any:
    """(N, 4) x1,y1,x2,y2 boxes -> vision_msgs/Detection2DArray (default: score 1, class "person")."""
    types = get_typestore(store).types
    identity = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = [1.0] * len(boxes) if scores is None else scores
    class_ids = ["person"] * len(boxes) if class_ids is None else class_ids
    detections = []
    for (x1, y1, x2, y2), score, class_id in zip(boxes, scores, class_ids, strict=True):
        result = types["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=types["vision_msgs/msg/ObjectHypothesis"](class_id=class_id, score=float(score)),
            pose=types["geometry_msgs/msg/PoseWithCovariance"](pose=identity, covariance=np.zeros(36)),
        )
        centre = types["vision_msgs/msg/Pose2D"](
            position=types["vision_msgs/msg/Point2D"](x=(x1 + x2) / 2, y=(y1 + y2) / 2), theta=0.0
        )
        bbox = types["vision_msgs/msg/BoundingBox2D"](center=centre, size_x=x2 - x1, size_y=y2 - y1)
        detections.append(
            types["vision_msgs/msg/Detection2D"](
                header=header(stamp_ns, frame_id, store), results=[result], bbox=bbox, id=""
            )
        )
    return types[DETECTION_2D_ARRAY](header=header(stamp_ns, frame_id, store), detections=detections)


def detections_from_msg(msg: Any, person_classes: tuple[str, ...] = ("person", "0")) -> list[Detection]:
    """vision_msgs/Detection2DArray -> person Detections (best hypothesis per box).

    A box whose best hypothesis names another class is dropped; a box with no hypotheses is
    taken as a person with score 1.0 (some upstream trackers publish bare boxes).
    """
    people = []
    wanted = {c.lower() for c in person_classes}
    for det in msg.detections:
        hypotheses = [r.hypothesis for r in det.results]
        best = max(hypotheses, key=lambda h: h.score) if hypotheses else None
        if best is not None and str(best.class_id).strip().lower() not in wanted:
            continue
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        half_w, half_h = det.bbox.size_x / 2.0, det.bbox.size_y / 2.0
        if not (half_w > 0 and half_h > 0):
            raise InputError(f"Detection2D box has no area ({det.bbox.size_x} x {det.bbox.size_y})")
        people.append(
            Detection(
                bbox=np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h]),
                score=1.0 if best is None else float(best.score),
                source="upstream",
            )
        )
    return people


def camera_from_info(msg: Any, image_width: int, image_height: int) -> CameraIntrinsics:
    """sensor_msgs/CameraInfo -> intrinsics for an image of the given size.

    A CameraInfo without a size is taken to describe the image as is. A uniformly resized image
    (same aspect ratio) gets K scaled to it; any other size mismatch (crop, ROI) is an InputError,
    since the principal point would silently be wrong.
    """
    info_w, info_h = int(msg.width) or image_width, int(msg.height) or image_height
    camera = intrinsics_from_k(msg.k, info_w, info_h)
    if (info_w, info_h) == (image_width, image_height):
        return camera
    sx, sy = image_width / info_w, image_height / info_h
    if abs(sx - sy) > 0.01 * max(sx, sy):
        raise InputError(
            f"CameraInfo is for {info_w}x{info_h} but the image is {image_width}x{image_height} "
            "(not a uniform resize)"
        )
    return CameraIntrinsics(
        camera.fx * sx,
        camera.fy * sy,
        camera.cx * sx,
        camera.cy * sy,
        image_width,
        image_height,
        camera.source,
    )


def image_message(
    rgb: np.ndarray, stamp_ns: int, frame_id: str, encoding: str = "rgb8", store: str = DEFAULT_STORE
) -> Any:
    """(H, W, 3) RGB uint8 -> sensor_msgs/Image (rgb8 or bgr8) or CompressedImage ("jpeg"/"png")."""
    types = get_typestore(store).types
    hdr = header(stamp_ns, frame_id, store)
    if encoding in ("jpeg", "png"):
        ok, data = cv2.imencode(
            f".{'jpg' if encoding == 'jpeg' else 'png'}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        )
        if not ok:
            raise ValueError(f"OpenCV could not encode a {encoding} image")
        return types[COMPRESSED_IMAGE](header=hdr, format=encoding, data=data.reshape(-1))
    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported encoding {encoding!r} (rgb8, bgr8, jpeg, png)")
    pixels = rgb if encoding == "rgb8" else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    h, w = rgb.shape[:2]
    data = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1)
    return types[IMAGE](
        header=hdr, height=h, width=w, encoding=encoding, is_bigendian=0, step=w * 3, data=data
    )


def camera_info_message(
    camera: CameraIntrinsics, stamp_ns: int, frame_id: str, store: str = DEFAULT_STORE
) -> Any:
    """Pinhole intrinsics -> sensor_msgs/CameraInfo (no distortion, identity rectification)."""
    types = get_typestore(store).types
    k = np.array([camera.fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0, 1], dtype=np.float64)
    p = np.array([camera.fx, 0, camera.cx, 0, 0, camera.fy, camera.cy, 0, 0, 0, 1, 0], dtype=np.float64)
    roi = types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return types[CAMERA_INFO](
        header=header(stamp_ns, frame_id, store),
        height=camera.height,
        width=camera.width,
        distortion_model="plumb_bob",
        d=np.zeros(5, dtype=np.float64),
        k=k,
        r=np.eye(3, dtype=np.float64).reshape(-1),
        p=p,
        binning_x=0,
        binning_y=0,
        roi=roi,
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
            t[TRANSFORM_STAMPED](
                header=header(frame.stamp_ns, frame.frame_id, store),
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


def tf_message(transforms: list[Any], store: str = DEFAULT_STORE) -> Any:
    """tf2_msgs/TFMessage carrying `transforms` (what tf2_ros' broadcaster sends)."""
    return get_typestore(store).types[TF_MESSAGE](transforms=transforms)


def diagnostics_message(
    stamp_ns: int,
    level: int,
    name: str,
    summary: str,
    hardware_id: str,
    values: dict[str, str],
    store: str = DEFAULT_STORE,
) -> Any:
    """diagnostic_msgs/DiagnosticArray with one status (what diagnostic_updater publishes)."""
    t = get_typestore(store).types
    status = t[DIAGNOSTIC_STATUS](
        level=level,
        name=name,
        message=summary,
        hardware_id=hardware_id,
        values=[t[KEY_VALUE](key=k, value=v) for k, v in values.items()],
    )
    return t[DIAGNOSTIC_ARRAY](header=header(stamp_ns, "", store), status=[status])
