"""Generated inputs: stand-in people in synthetic scenes, sample rosbags and labelled data sets.

Everything here is deterministic given a seed and shows mannequins (the stand-in body), never
real people: it lets the demo, the tests and the accuracy measurements run without any footage.
"""

from fasthmr_ros.samples.bag import CameraFrame, CameraTopics, write_camera_bag, write_sample_bag
from fasthmr_ros.samples.scene import (
    CAMERA_HEIGHT,
    SampleMotion,
    person_boxes,
    render_person_image,
    sample_camera,
    sample_motion,
    standin_body_model,
    write_sample_image,
)

__all__ = [
    "CAMERA_HEIGHT",
    "CameraFrame",
    "CameraTopics",
    "SampleMotion",
    "person_boxes",
    "render_person_image",
    "sample_camera",
    "sample_motion",
    "standin_body_model",
    "write_camera_bag",
    "write_sample_bag",
    "write_sample_image",
]
