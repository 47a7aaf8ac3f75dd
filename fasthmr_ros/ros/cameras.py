"""Which cameras the node listens to, and where each camera's outputs go.

One camera (the `cameras` parameter empty) keeps the plain topic names. With several, each
camera gets a short name (the last part of its namespace, or of its image topic's parent) and
its own output topics `<topic>/<name>`, TF frames `<prefix><name>_<track id>` and ROS4HRI ids
`<name>_<track id>`, because tracks are counted per camera and would otherwise collide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.errors import FastHMRError


@dataclass(frozen=True)
class CameraInput:
    name: str  # "" for the single camera of image_topic / camera_info_topic
    image_topic: str
    camera_info_topic: str

    def output(self, topic: str) -> str:
        """This camera's version of an output topic."""
        return f"{topic.rstrip('/')}/{self.name}" if self.name else topic


def _name(path: str) -> str:
    part = [p for p in path.strip("/").split("/") if p]
    return re.sub(r"[^A-Za-z0-9_]", "_", part[-1]) if part else ""


def camera_inputs(cfg: NodeConfig) -> list[CameraInput]:
    """The cameras of `cfg`: its `cameras` list, else the one image_topic / camera_info_topic."""
    return parse_cameras(cfg.cameras) or [CameraInput("", cfg.image_topic, cfg.camera_info_topic)]


def parse_cameras(text: str) -> list[CameraInput]:
    """A `cameras` setting -> its cameras ([] when empty; one entry keeps the plain output names)."""
    entries = [e for e in re.split(r"[,\s]+", text) if e]
    if not entries:
        return []
    cameras = []
    for entry in entries:
        if ":" in entry:
            image, _, info = entry.partition(":")
            if not image or not info:
                raise FastHMRError(f"camera {entry!r}: expected image_topic:camera_info_topic")
            name = _name(image.rsplit("/", 1)[0]) or _name(image)
        else:
            namespace = entry.rstrip("/")
            image, info, name = f"{namespace}/image_raw", f"{namespace}/camera_info", _name(namespace)
        cameras.append(CameraInput(name, image, info))
    names = [c.name for c in cameras]
    if len(cameras) > 1 and (len(set(names)) != len(names) or "" in names):
        raise FastHMRError(f"cameras need distinct names (last part of the namespace); got {names}")
    if len(cameras) == 1:
        return [CameraInput("", cameras[0].image_topic, cameras[0].camera_info_topic)]
    return cameras
