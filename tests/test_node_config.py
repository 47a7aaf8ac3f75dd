"""The node's configuration surface: YAML defaults, parameter specs, launch files, RViz config."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml

from fasthmr_ros.config import NodeConfig, load_node_config
from fasthmr_ros.ros.markers import MESH_NS, SKELETON_NS
from fasthmr_ros.ros.node_params import (
    RUNTIME_PARAMETERS,
    SPECS,
    ParameterError,
    check_config,
    check_value,
    field_types,
)

ROOT = Path(__file__).resolve().parents[1]


def test_yaml_is_the_dataclass_defaults_field_for_field() -> None:
    raw = yaml.safe_load((ROOT / "config" / "fasthmr.yaml").read_text())
    params = raw["/**"]["ros__parameters"]
    names = [f.name for f in dataclasses.fields(NodeConfig)]
    assert sorted(params) == sorted(names), "config/fasthmr.yaml and NodeConfig name different settings"
    defaults = NodeConfig()
    for name in names:
        value = params[name]
        assert type(value) is type(getattr(defaults, name)), name  # ROS would declare another type
        assert value == getattr(defaults, name), name
    assert load_node_config(ROOT / "config" / "fasthmr.yaml") == defaults


def test_params_file_with_a_node_name_and_a_typo(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("fasthmr_node:\n  ros__parameters:\n    score_threshold: 0.5\n    publish_tf: true\n")
    cfg = load_node_config(path)
    assert (cfg.score_threshold, cfg.publish_tf, cfg.device) == (0.5, True, NodeConfig().device)
    path.write_text("/**:\n  ros__parameters:\n    score_treshold: 0.5\n")
    with pytest.raises(ValueError, match="score_treshold"):
        load_node_config(path)


def test_every_parameter_has_a_description_and_a_range_holding_its_default() -> None:
    assert set(SPECS) == {f.name for f in dataclasses.fields(NodeConfig)}
    types = field_types()
    for name, spec in SPECS.items():
        assert len(spec.description) > 10, name
        if types[name] in (int, float):
            assert spec.low is not None and spec.high is not None, f"{name} needs a range"
    check_config(NodeConfig())  # every default passes its own range
    assert {"score_threshold", "nms_iou", "min_box_size", "tracker_iou_threshold", "marker_rate_hz"} <= set(
        RUNTIME_PARAMETERS
    )


def test_check_config_converts_a_copy_and_leaves_the_callers_config_alone() -> None:
    given = NodeConfig(marker_rate_hz=3)  # type: ignore[arg-type]  # an int, as YAML may give
    checked = check_config(given)
    assert type(checked.marker_rate_hz) is float and checked.marker_rate_hz == 3.0
    assert type(given.marker_rate_hz) is int and checked is not given


def test_values_are_checked_like_ros_would() -> None:
    assert check_value("marker_rate_hz", 3) == 3.0 and isinstance(check_value("marker_rate_hz", 3), float)
    with pytest.raises(ParameterError, match="outside"):
        check_value("score_threshold", -0.1)
    with pytest.raises(ParameterError, match="one of"):
        check_value("backend", "cuda")
    with pytest.raises(ParameterError, match="must be a int"):
        check_value("max_persons", 2.5)
    with pytest.raises(ParameterError, match="must be a bool"):
        check_value("publish_tf", 1)
    with pytest.raises(ParameterError, match="unknown"):
        check_value("image_topics", "/a")


def _declared_arguments(path: Path) -> dict[str, object]:
    """name -> default of the launch file's ARGUMENTS table, read with ast (no ROS needed)."""
    tree = ast.parse(path.read_text())
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS"
    )
    arguments = ast.literal_eval(table)
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DeclareLaunchArgument"
    ]
    assert calls, f"{path.name} declares no launch arguments"
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    return {name: default for name, (default, _) in arguments.items()}


def test_node_launch_file_arguments() -> None:
    args = _declared_arguments(ROOT / "launch" / "fasthmr.launch.py")
    node_params = ("image_topic", "camera_info_topic", "detections_topic", "image_reliability",
                   "queue_depth", "device", "backend")  # fmt: skip
    assert {*node_params, "params_file", "namespace", "use_rviz"} <= set(args)
    defaults = NodeConfig()
    for name in node_params:
        assert args[name] == str(getattr(defaults, name)), f"launch default of {name} differs from the YAML"
    source = (ROOT / "launch" / "fasthmr.launch.py").read_text()
    assert 'executable="fasthmr_node"' in source and "TRANSITION_ACTIVATE" in source
    assert "TRANSITION_CONFIGURE" in source and '"fasthmr.rviz"' in source


def test_replay_launch_file_arguments() -> None:
    path = ROOT / "launch" / "replay.launch.py"
    args = _declared_arguments(path)
    assert args["bag"] is None  # required
    assert {"output", "rate", "image_topic", "camera_info_topic", "params_file", "device"} <= set(args)
    tree = ast.parse(path.read_text())
    forwarded = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "FORWARDED"
    )
    node_args = _declared_arguments(ROOT / "launch" / "fasthmr.launch.py")
    assert set(forwarded) <= set(node_args) and set(forwarded) <= set(args)
    source = path.read_text()
    assert '"play"' in source and '"record"' in source and '"fasthmr.launch.py"' in source


def test_rviz_config_shows_image_markers_and_tf() -> None:
    rviz = yaml.safe_load((ROOT / "config" / "fasthmr.rviz").read_text())
    displays = {d["Class"]: d for d in rviz["Visualization Manager"]["Displays"]}
    cfg = NodeConfig()
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == cfg.image_topic
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/" + cfg.markers_topic
    assert displays["rviz_default_plugins/MarkerArray"]["Namespaces"] == {MESH_NS: True, SKELETON_NS: True}
    assert "rviz_default_plugins/TF" in displays
