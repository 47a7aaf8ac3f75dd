"""The rclpy lifecycle node: runs where ROS 2 (rclpy) is installed, skips cleanly elsewhere."""

from __future__ import annotations

import dataclasses

import pytest

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from fasthmr_ros.config import NodeConfig  # noqa: E402
from fasthmr_ros.ros.node import FastHMRNode  # noqa: E402
from fasthmr_ros.ros.node_params import SPECS  # noqa: E402


@pytest.fixture
def node():  # type: ignore[no-untyped-def]
    rclpy.init()
    made = FastHMRNode(overrides={"device": "cpu", "cpu_threads": 1})
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
