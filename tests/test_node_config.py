"""The node's configuration surface: YAML defaults, parameter specs, launch files, RViz config."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml

from fasthmr_ros.config import (
    MIRRORS,
    BagConfig,
    DecoderConfig,
    NodeConfig,
    PipelineConfig,
    RuntimeConfig,
    TrackerConfig,
    load_node_config,
    mirrored,
)
from fasthmr_ros.ros.bag.topics import absolute_outputs
from fasthmr_ros.ros.messages.markers import MESH_NS, SKELETON_NS
from fasthmr_ros.ros.node.params import (
    RUNTIME_PARAMETERS,
    SPECS,
    ParameterError,
    check_config,
    check_value,
    field_types,
    vertices_needed,
)
from fasthmr_ros.ros.node.setup import pipeline_config, runtime_config

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


def test_node_parameters_that_set_a_section_are_that_sections_settings() -> None:
    node = NodeConfig()
    mirrors = [f for f in dataclasses.fields(NodeConfig) if MIRRORS in f.metadata]
    assert {"humans_topic", "device", "score_threshold", "tracker_max_age", "lookahead"} <= {
        f.name for f in mirrors
    }
    for f in mirrors:
        section, name = f.metadata[MIRRORS]
        source = next(s for s in dataclasses.fields(section) if s.name == name)
        assert getattr(node, f.name) == ("" if source.default is None else source.default), f.name
        assert SPECS[f.name] is source.metadata["node_parameter"], f.name
    # The node's defaults build exactly the sections' defaults (device comes from the backend choice).
    assert pipeline_config(node, "cpu") == PipelineConfig(device="cpu", output_vertices=True)
    assert runtime_config(node) == RuntimeConfig()
    decoder_defaults = DecoderConfig()
    assert mirrored(node, DecoderConfig) == {
        "decoder": "regression",
        "lookahead": 0,
        "sample_steps": 1,
        "one_euro_min_cutoff": decoder_defaults.one_euro_min_cutoff,
        "one_euro_beta": decoder_defaults.one_euro_beta,
        "one_euro_d_cutoff": decoder_defaults.one_euro_d_cutoff,
        "one_euro_frame_rate": decoder_defaults.one_euro_frame_rate,
    }
    changed = NodeConfig(checkpoint="/m.ckpt", tracker_iou_threshold=0.2, score_threshold=0.5, device="cpu")
    pipe = pipeline_config(changed, "cpu")
    assert (pipe.checkpoint, pipe.score_threshold, pipe.tracker) == (
        "/m.ckpt",
        0.5,
        TrackerConfig(iou_threshold=0.2),
    )
    assert runtime_config(changed).device == "cpu" and runtime_config(changed).engine_cache_dir is None
    # One vertex rule for the node and the bag tool: markers draw the mesh, publish_vertices sends it.
    assert vertices_needed(node) and not vertices_needed(NodeConfig(mesh_markers=False))
    assert vertices_needed(NodeConfig(mesh_markers=False, publish_vertices=True))
    assert not pipeline_config(NodeConfig(mesh_markers=False), "cpu").output_vertices
    # One default output topic: relative for the node (its namespace), under / in a bag.
    assert (node.humans_topic, absolute_outputs(BagConfig().outputs).humans) == (
        "fasthmr/humans",
        "/fasthmr/humans",
    )


def test_docs_parameter_table_is_the_parameter_table() -> None:
    """docs/node.md lists every parameter with the default, range and run-time flag the node declares."""
    rows = {}
    for line in (ROOT / "docs" / "node.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0].strip("`") in SPECS:
            rows[cells[0].strip("`")] = cells
    assert list(rows) == list(SPECS)
    defaults = NodeConfig()
    for name, spec in SPECS.items():
        value = getattr(defaults, name)
        default = '`""`' if value == "" else f"`{value}`"
        if spec.choices:
            allowed = " / ".join(spec.choices)
        elif spec.low is not None and spec.high is not None:
            allowed = f"[{spec.low:g}, {spec.high:g}]"
        else:
            allowed = ""
        assert rows[name][1:4] == [default, allowed, "yes" if spec.runtime else ""], name
        assert rows[name][4].startswith(spec.description), name


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


def test_launch_defaults_are_the_node_defaults() -> None:
    defaults = NodeConfig()
    node_args = _declared_arguments(ROOT / "launch" / "fasthmr.launch.py")
    replay_args = _declared_arguments(ROOT / "launch" / "replay.launch.py")
    for args in (node_args, replay_args):
        for name in sorted(set(args) & set(SPECS)):
            assert args[name] == str(getattr(defaults, name)), (
                f"launch default of {name} differs from NodeConfig"
            )


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
