"""The rclpy lifecycle node in this process: parameters and transitions called directly.
(tests/test_node_rclpy_live.py drives it from another process over ROS 2.)"""

from __future__ import annotations

import dataclasses

import pytest
from rclpy_peer import rclpy  # first: needs ROS 2

# isort: split
from rcl_interfaces.msg import SetParametersResult
from rclpy.parameter import Parameter

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.ros.node import FastHMRNode
from fasthmr_ros.ros.node_params import SPECS


@pytest.fixture
def node():  # type: ignore[no-untyped-def]
    rclpy.init()
    made = FastHMRNode(overrides={"device": "cpu", "cpu_threads": 1, "backend": "cpu", "precision": "fp32"})
    yield made
    made.destroy_node()
    rclpy.try_shutdown()


def test_every_parameter_declared_with_description_and_range(node: FastHMRNode) -> None:
    for field in dataclasses.fields(NodeConfig):
        descriptor = node.describe_parameter(field.name)
        assert descriptor.description == SPECS[field.name].description
        spec = SPECS[field.name]
        if isinstance(getattr(NodeConfig(), field.name), float) and spec.low is not None:
            assert descriptor.floating_point_range[0].to_value == spec.high
        if type(getattr(NodeConfig(), field.name)) is int and spec.low is not None:
            assert descriptor.integer_range[0].from_value == spec.low
    assert node.get_parameter("device").value == "cpu"


def test_lifecycle_and_runtime_parameters(node: FastHMRNode) -> None:
    from rclpy.lifecycle import TransitionCallbackReturn

    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    result: SetParametersResult = node.set_parameters([Parameter("score_threshold", value=0.6)])[0]
    assert result.successful
    refused = node.set_parameters([Parameter("checkpoint", value="/x.ckpt")])[0]
    assert not refused.successful and "configure" in refused.reason
    out_of_range = node.set_parameters([Parameter("marker_rate_hz", value=500.0)])[0]
    assert not out_of_range.successful
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.core is None


def test_parameters_of_others_are_left_to_their_owner(node: FastHMRNode) -> None:
    """A library declaring its own parameters on the node (diagnostic_updater does, in its
    constructor) and use_sim_time must pass the node's on-set callback."""
    node.declare_parameter("diagnostic_updater.period", 1.0)
    assert node.set_parameters([Parameter("use_sim_time", value=True)])[0].successful
    assert node.set_parameters([Parameter("diagnostic_updater.period", value=2.0)])[0].successful
