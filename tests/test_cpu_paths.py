"""The int8/bf16 CPU paths, their measured accuracy cost, and `auto` choosing among them."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from fasthmr_ros.cli.main import main
from fasthmr_ros.config import MergingConfig, RuntimeConfig
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.runtime import select
from fasthmr_ros.runtime.accuracy import joint_deviation_mm
from fasthmr_ros.runtime.select import BackendChoice, Capabilities, build_runner, create_runner
from fasthmr_ros.samples.synth import SynthConfig, write_synth_set
from fasthmr_ros.training.hmr import make_batch

NOTHING = Capabilities(None, None, "TensorRT is not installed", ort_cuda=False)


@pytest.fixture(scope="module")
def model():
    """The embedded default with Mask-ToMe: poses near a standing mean, so joint deviations are
    those of a plausible body rather than of a random tangle."""
    m = embedded_default_model()
    m.set_token_merging(MergingConfig())
    return m


@pytest.fixture(scope="module")
def body():
    return resolve_body_model().body


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> torch.Tensor:
    """Three person crops of rendered scenes, the input the paths serve: noise crops push the
    trained default off its data, where rounding moves its joints much further."""
    data = write_synth_set(tmp_path_factory.mktemp("crops") / "set", images=3, seed=5, progress=False)
    return make_batch(data, np.arange(3), jitter=0.0, rng=np.random.default_rng(0)).crops


@pytest.mark.parametrize(
    ("backend", "precision"), [("onnxruntime", "int8"), ("cpu", "int8"), ("cpu", "bf16")]
)
def test_reduced_precision_paths_really_reduce_and_stay_close(
    model, body, crops, tmp_path, backend, precision
) -> None:
    cfg = RuntimeConfig(device="cpu", engine_cache_dir=str(tmp_path))
    runner = build_runner(BackendChoice(backend, "cpu", precision, "test"), cfg, model)
    reference = build_runner(BackendChoice("cpu", "cpu", "fp32", "test"), cfg, model)
    deviation = joint_deviation_mm(body, runner(crops), reference(crops))
    assert 0.0 < deviation < 20.0, deviation  # changed numbers, same body
    if backend == "onnxruntime":
        ops = {n.op_type for n in onnx.load(str(runner.path)).graph.node}
        assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    elif precision == "int8":
        assert any("quantized" in type(m).__module__ for m in runner.model.modules())
    else:
        assert next(runner.model.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.float32  # the shared model is untouched


def test_auto_on_cpu_takes_the_fastest_path_within_the_bound(model, body, tmp_path, monkeypatch) -> None:
    cfg = RuntimeConfig(backend="auto", device="cpu", engine_cache_dir=str(tmp_path))
    # A bound every path meets (the shipped weights' int8 deviation, about 2 mm, sits near the
    # default bound, so which path that picks depends on the weights, not on the selection).
    monkeypatch.setattr(select, "JOINT_DEVIATION_BOUND_MM", 1000.0)
    runner, choice = create_runner(cfg, model, NOTHING, body)
    first = select.CPU_PATH_ORDER[0]
    assert (choice.backend, choice.precision) == first and runner.precision == first[1]
    assert f"{first[0]}/{first[1]}: " in choice.reason and " mm" in choice.reason
    # With a bound no other path can meet, it falls back to the fp32 reference and says why.
    monkeypatch.setattr(select, "JOINT_DEVIATION_BOUND_MM", -1.0)
    _, choice = create_runner(cfg, model, NOTHING, body)
    assert (choice.backend, choice.precision) == ("cpu", "fp32")
    assert choice.reason.count("over the bound") == len(select.CPU_PATH_ORDER) - 1


def test_bench_cpu_paths_reports_speedup_and_accuracy_cost(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FASTHMR_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "paths.json"
    paths = "ECLM+Mask-ToMe:cpu/fp32,ECLM+Mask-ToMe:onnxruntime/int8"
    assert main(["bench", "--model", "tiny", "--sections", "cpu_paths", "--batches", "1,2", "--repeats", "2",
                 "--paths", paths, "--json", str(out)]) == 0  # fmt: skip
    rows = json.loads(out.read_text())["sections"]["cpu_paths"]["rows"]
    by = {(r["path"], r["batch"]): r for r in rows}
    assert len(by) == 6
    assert (
        by[("baseline cpu/fp32", 1)]["speedup"] == 1.0 and by[("baseline cpu/fp32", 2)]["joint_dev_mm"] == 0.0
    )
    assert by[("ECLM+Mask-ToMe cpu/fp32", 2)]["joint_dev_mm"] == 0.0  # its own reference
    assert by[("ECLM+Mask-ToMe onnxruntime/int8", 2)]["joint_dev_mm"] > 0.0
    for r in rows:
        assert r["crops_per_s"] == pytest.approx(r["batch"] * 1000 / r["median_ms"], rel=0.01)
        assert len(r["samples_ms"]) == max(3, 2 // r["batch"])


def test_eval_measures_a_speed_path_on_a_labelled_set(tmp_path) -> None:
    """`fasthmr eval --backend/--precision`: the path's MPJPE beside fp32's on the same images."""
    data = tmp_path / "set"
    write_synth_set(data, images=3, seed=5, cfg=SynthConfig(width=160, height=120), progress=False)
    reports = {}
    for backend, precision in (("cpu", "fp32"), ("onnxruntime", "int8")):
        out = tmp_path / f"{backend}_{precision}.json"
        assert (
            main(["eval", str(data), "--backend", backend, "--precision", precision, "--json", str(out)]) == 0
        )
        reports[backend] = json.loads(out.read_text())
    fp32, int8 = reports["cpu"], reports["onnxruntime"]
    assert (int8["backend"]["backend"], int8["backend"]["precision"]) == ("onnxruntime", "int8")
    assert fp32["backend"]["backend"] == "cpu" and fp32["persons"] == int8["persons"] > 0
    assert int8["mpjpe_mm"] != fp32["mpjpe_mm"]  # really another path
    assert abs(int8["mpjpe_mm"] - fp32["mpjpe_mm"]) < 20.0
