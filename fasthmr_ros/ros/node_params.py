"""Description, range and run-time changeability of every `NodeConfig` field, without ROS.

The rclpy node turns these into `ParameterDescriptor`s (with `FloatingPointRange` /
`IntegerRange`); the DDS front end and the tests validate against the same table, so a value
is accepted or refused identically whichever transport runs the node.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.cameras import camera_inputs


class ParameterError(FastHMRError):
    """A node parameter value is out of range, of the wrong type, or not changeable at run time."""


@dataclass(frozen=True)
class ParamSpec:
    description: str
    low: float | None = None  # numeric range (inclusive); None = unbounded on that side
    high: float | None = None
    choices: tuple[str, ...] = ()  # allowed strings, when the set is closed
    runtime: bool = False  # may change while the node runs (else: read at configure)


_BACKENDS = ("auto", "tensorrt", "torch", "onnxruntime", "cpu")

SPECS: dict[str, ParamSpec] = {
    "image_topic": ParamSpec("sensor_msgs/Image (or CompressedImage) input topic"),
    "compressed_input": ParamSpec("the image topic carries sensor_msgs/CompressedImage (jpeg/png)"),
    "camera_info_topic": ParamSpec("sensor_msgs/CameraInfo of the image topic"),
    "detections_topic": ParamSpec(
        "vision_msgs/Detection2DArray person boxes from an upstream detector; empty = find people here"
    ),
    "image_reliability": ParamSpec(
        "QoS reliability of the input subscriptions: best_effort (REP-2003 sensor data, matches every "
        "camera) or reliable (only reliable cameras; large raw images arrive whole)",
        choices=("best_effort", "reliable"),
    ),
    "queue_depth": ParamSpec("keep-last QoS depth of the input subscriptions", 1, 100),
    "slop_s": ParamSpec(
        "largest stamp difference (s) between paired image, camera info, detections", 0.0, 1.0
    ),
    "humans_topic": ParamSpec("fasthmr_ros/HumanMeshArray output, one per processed image"),
    "mesh_topic": ParamSpec("shape_msgs/Mesh with the fixed SMPL triangles (transient local)"),
    "markers_topic": ParamSpec("visualization_msgs/MarkerArray for RViz (mesh and skeleton)"),
    "marker_rate_hz": ParamSpec("publish markers at most this often; 0 = never", 0.0, 60.0, runtime=True),
    "mesh_markers": ParamSpec("include a TRIANGLE_LIST mesh per person in the markers", runtime=True),
    "marker_lifetime_s": ParamSpec("markers of a lost person vanish after this long (s)", 0.0, 10.0),
    "publish_vertices": ParamSpec("put the 6890 vertices (float32) in every HumanMesh"),
    "publish_tf": ParamSpec(
        "broadcast a TF frame <tf_prefix>b<track id> per person (REP-155 body id)", runtime=True
    ),
    "tf_prefix": ParamSpec("prefix of the per-person TF frames (REP-155: body_)"),
    "diagnostics_rate_hz": ParamSpec("diagnostics publishing rate (Hz)", 0.1, 10.0),
    "ros_store": ParamSpec("ROS 2 distro whose message definitions are used", choices=("humble", "jazzy")),
    "checkpoint": ParamSpec("model checkpoint; empty = 4D-Humans cache, else the embedded default"),
    "smpl": ParamSpec("SMPL_NEUTRAL.pkl; empty = 4D-Humans cache, else the generated stand-in body"),
    "j19": ParamSpec("SMPL_to_J19.pkl for HMR 2.0's 44 joints; empty = 4D-Humans cache"),
    "backend": ParamSpec(
        "inference backend; auto picks TensorRT, then torch on CUDA, then CPU", choices=_BACKENDS
    ),
    "device": ParamSpec("torch device the backend should use (cuda, cuda:1, cpu)"),
    "precision": ParamSpec(
        "inference precision (CPU: fp32, bf16, int8; docs/runtime.md)",
        choices=("fp32", "fp16", "bf16", "int8"),
    ),
    "engine_cache_dir": ParamSpec("TensorRT engines / exported ONNX; empty = the package cache"),
    "cpu_threads": ParamSpec("torch intra-op threads; 0 = torch's default", 0, 256),
    "decoder": ParamSpec("pose decoder", choices=("regression", "diffusion", "genhmr")),
    "decoder_model": ParamSpec("checkpoint of the diffusion or GenHMR decoder"),
    "lookahead": ParamSpec("diffusion decoder: frames of delay traded for smoothness", 0, 1024),
    "sample_steps": ParamSpec("diffusion decoder: denoising steps (the paper uses one)", 1, 1000),
    "token_merging": ParamSpec("Mask-ToMe token merging with the paper's schedule"),
    "detection": ParamSpec("where person boxes come from", choices=("auto", "upstream", "onnx", "fixed")),
    "detector_model": ParamSpec("Ultralytics YOLO detect/segment ONNX person detector"),
    "detect_every": ParamSpec("run the detector every N frames, propagate boxes in between", 1, 1000),
    "max_persons": ParamSpec("best-scoring persons processed per frame", 1, 64),
    "score_threshold": ParamSpec("least detection score of a person", 0.0, 1.0, runtime=True),
    "nms_iou": ParamSpec("non-maximum suppression IoU of the built-in detector", 0.0, 1.0, runtime=True),
    "min_box_size": ParamSpec("smallest person box side (pixels)", 0.0, 4096.0, runtime=True),
    "tracker_iou_threshold": ParamSpec("least IoU to continue a track", 0.01, 1.0, runtime=True),
    "tracker_max_age": ParamSpec("frames a lost track coasts before it is dropped", 0, 1000),
    "history_window": ParamSpec("frames of per-track history kept for temporal decoders", 1, 1024),
    "cameras": ParamSpec(
        "several cameras: namespaces or image_topic:camera_info_topic pairs; empty = image_topic only"
    ),
    "target_frame": ParamSpec("frame of the 3D outputs (from /tf and /tf_static); empty = the camera frame"),
    "tf_tolerance_s": ParamSpec("accept a transform this far (s) beyond the newest one", 0.0, 10.0),
    "hri": ParamSpec("publish ROS4HRI (REP-155) body topics and body TF frames"),
}

RUNTIME_PARAMETERS = tuple(name for name, spec in SPECS.items() if spec.runtime)


def field_types() -> dict[str, type]:
    """NodeConfig field -> its Python type (bool, int, float or str)."""
    defaults = NodeConfig()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(NodeConfig)}


def check_value(name: str, value: Any) -> Any:
    """The value converted to the field's type, or ParameterError saying why it is refused."""
    spec = SPECS.get(name)
    if spec is None:
        raise ParameterError(f"unknown node parameter {name!r}")
    kind = field_types()[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise ParameterError(f"{name} must be a {kind.__name__}, got {value!r}")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise ParameterError(f"{name}={value} is outside [{spec.low}, {spec.high}]")
    if spec.choices and value not in spec.choices:
        raise ParameterError(f"{name}={value!r} is not one of {spec.choices}")
    return value


def check_config(cfg: NodeConfig) -> NodeConfig:
    """A copy of `cfg` with every field checked and converted (configure refuses a bad file before
    loading anything); `cfg` itself is left as the caller made it."""
    checked = dataclasses.replace(cfg, **{name: check_value(name, getattr(cfg, name)) for name in SPECS})
    if len(camera_inputs(checked)) > 1 and checked.detections_topic:  # camera_inputs refuses bad lists
        raise ParameterError("detections_topic works with one camera; leave it empty with several cameras")
    return checked


def vertices_needed(cfg: NodeConfig) -> bool:
    """Whether the node's outputs use the mesh vertices: mesh markers draw them, and
    `publish_vertices` sends them."""
    return cfg.publish_vertices or cfg.mesh_markers
