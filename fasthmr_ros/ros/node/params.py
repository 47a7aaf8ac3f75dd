"""Description, range and run-time changeability of every `NodeConfig` field, without ROS.

The table is read from the fields' metadata in `fasthmr_ros.config`. The rclpy node turns it
into `ParameterDescriptor`s (with `FloatingPointRange` / `IntegerRange`); the DDS front end and
the tests validate against the same table, so a value is accepted or refused identically
whichever transport runs the node.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fasthmr_ros.config import PARAM, MessagesConfig, NodeConfig, ParamSpec, mirrored
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.node.cameras import camera_inputs


class ParameterError(FastHMRError):
    """A node parameter value is out of range, of the wrong type, or not changeable at run time."""


# Parameter name -> its spec, read from the NodeConfig fields' metadata (`config.param` / `mirror`).
SPECS: dict[str, ParamSpec] = {f.name: f.metadata[PARAM] for f in dataclasses.fields(NodeConfig)}

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
    if isinstance(value, (int, float)) and (
        (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high)
    ):
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
    """`MessagesConfig.needs_vertices` for the node's (flat) settings."""
    return MessagesConfig(**mirrored(cfg, MessagesConfig)).needs_vertices()
