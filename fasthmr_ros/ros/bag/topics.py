"""Which topics of a bag are the camera(s), their CameraInfo and detections: from the config, or
found by message type when the bag is unambiguous."""

from __future__ import annotations

from rosbags.rosbag2 import Reader

from fasthmr_ros.config import BagConfig, OutputTopicsConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.messages.typestore import CAMERA_INFO, COMPRESSED_IMAGE, DETECTION_2D_ARRAY, IMAGE
from fasthmr_ros.ros.node.cameras import CameraInput, parse_cameras


class BagError(FastHMRError):
    """The input bag cannot be used as asked (missing, unreadable, ambiguous topics)."""


def _topics_of_types(reader: Reader, msgtypes: tuple[str, ...]) -> list[str]:
    return sorted({c.topic for c in reader.connections if c.msgtype in msgtypes})


def choose_topics(reader: Reader, cfg: BagConfig) -> tuple[str, str | None, str | None]:
    """(image, camera_info or None, detections or None) topics, from the config or the bag."""
    present = {c.topic: c.msgtype for c in reader.connections}
    image_topics = _topics_of_types(reader, (IMAGE, COMPRESSED_IMAGE))
    if cfg.image_topic:
        if present.get(cfg.image_topic) not in (IMAGE, COMPRESSED_IMAGE):
            raise BagError(
                f"image topic {cfg.image_topic} is not an Image/CompressedImage topic of the bag; "
                f"image topics there: {image_topics or 'none'}"
            )
        image = cfg.image_topic
    elif len(image_topics) == 1:
        image = image_topics[0]
    else:
        raise BagError(
            f"the bag has {len(image_topics)} image topics {image_topics}: choose one with --image-topic"
        )

    info_topics = _topics_of_types(reader, (CAMERA_INFO,))
    sibling = image.rsplit("/", 1)[0] + "/camera_info"
    if cfg.camera_info_topic:
        if present.get(cfg.camera_info_topic) != CAMERA_INFO:
            raise BagError(
                f"camera info topic {cfg.camera_info_topic} is not a CameraInfo topic of the bag; "
                f"CameraInfo topics there: {info_topics or 'none'}"
            )
        info: str | None = cfg.camera_info_topic
    elif sibling in info_topics:
        info = sibling
    elif len(info_topics) == 1:
        info = info_topics[0]
    elif not info_topics and cfg.use_default_intrinsics:
        info = None
    else:
        raise BagError(
            f"cannot tell which CameraInfo topic belongs to {image} (found {info_topics or 'none'}): "
            "pass --camera-info-topic, or --default-intrinsics to use HMR 2.0's focal guess"
        )

    det_topics = _topics_of_types(reader, (DETECTION_2D_ARRAY,))
    if cfg.detections_topic == "none":
        detections = None
    elif cfg.detections_topic:
        if present.get(cfg.detections_topic) != DETECTION_2D_ARRAY:
            raise BagError(
                f"detections topic {cfg.detections_topic} is not a vision_msgs/Detection2DArray "
                f"topic of the bag; Detection2DArray topics there: {det_topics or 'none'}"
            )
        detections = cfg.detections_topic
    else:
        detections = det_topics[0] if len(det_topics) == 1 else None
    return image, info, detections


def choose_cameras(reader: Reader, cfg: BagConfig) -> list[tuple[CameraInput, str | None]]:
    """(camera, CameraInfo topic or None) per camera: the `cameras` list, or the one camera of
    `choose_topics`."""
    listed = parse_cameras(cfg.cameras)
    if not listed:
        image, info, _ = choose_topics(reader, cfg)
        return [(CameraInput("", image, info or ""), info)]
    if cfg.detections_topic not in ("", "none"):
        raise BagError("detections_topic works with one camera; leave it empty with --cameras")
    present = {c.topic: c.msgtype for c in reader.connections}
    for camera in listed:
        if present.get(camera.image_topic) not in (IMAGE, COMPRESSED_IMAGE):
            raise BagError(f"camera {camera.name}: {camera.image_topic} is not an image topic of the bag")
        if present.get(camera.camera_info_topic) != CAMERA_INFO and not cfg.use_default_intrinsics:
            raise BagError(
                f"camera {camera.name}: {camera.camera_info_topic} is not a CameraInfo topic of the bag "
                "(or pass --default-intrinsics)"
            )
    return [
        (c, c.camera_info_topic if present.get(c.camera_info_topic) == CAMERA_INFO else None) for c in listed
    ]


def absolute_outputs(outputs: OutputTopicsConfig) -> OutputTopicsConfig:
    """The output topics as the bag names them: a bag has no namespace, so relative names
    resolve in /."""
    return OutputTopicsConfig(**{key: "/" + topic.lstrip("/") for key, topic in vars(outputs).items()})
