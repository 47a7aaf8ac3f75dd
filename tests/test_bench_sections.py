"""`fasthmr bench` sections contributed by the pipeline, the decoders and the runtime."""

from __future__ import annotations

import json
from pathlib import Path

from fasthmr_ros.cli.main import main


def test_split_and_backends_sections(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", "tiny", "--repeats", "2", "--warmup", "0",
                 "--sections", "split,backends", "--json", str(out)]) == 0  # fmt: skip
    sections = json.loads(out.read_text())["sections"]
    split = {r["persons"]: r for r in sections["split"]["rows"]}
    assert set(split) == {"1", "5"}
    assert split["5"]["smpl_ms"] > 0 and split["5"]["total_ms"] >= split["5"]["smpl_ms"]
    assert split["1"]["target_ms"] == 15.0 and split["5"]["target_ms"] == 40.0
    backends = {r["backend"]: r for r in sections["backends"]["rows"]}
    assert {"torch", "onnxruntime"} <= set(backends)
    assert backends["onnxruntime"]["max_abs_diff_vs_first"] < 1e-3
    assert all(r["median_ms"] > 0 for r in backends.values())


def test_backends_are_opt_in(tmp_path: Path, monkeypatch) -> None:
    """The default run skips the backends section (it exports a full model to ONNX)."""
    from fasthmr_ros import bench

    called = []
    monkeypatch.setattr(bench, "SECTIONS", [(n, (lambda ctx, n=n: called.append(n) or bench.Section(n, [])))
                                            for n, _ in bench.SECTIONS])  # fmt: skip
    assert main(["bench", "--model", "tiny"]) == 0
    assert "backends" not in called and {"variants", "split", "decoders"} <= set(called)


def test_cameras_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", "tiny", "--repeats", "1", "--warmup", "0",
                 "--sections", "cameras", "--json", str(out)]) == 0  # fmt: skip
    rows = json.loads(out.read_text())["sections"]["cameras"]["rows"]
    assert {(r["cameras"], r["mode"]) for r in rows} == {
        (1, "alone"),
        (2, "batched"),
        (2, "sequential"),
        (4, "batched"),
        (4, "sequential"),
    }
    for r in rows:
        assert abs(r["crops_per_s"] - r["cameras"] * 1000 / r["step_ms"]) < 1e-2 * r["crops_per_s"]
        assert r["latency_mean_ms"] <= r["latency_max_ms"]
    sequential = {r["cameras"]: r for r in rows if r["mode"] == "sequential"}
    assert sequential[4]["latency_mean_ms"] < sequential[4]["latency_max_ms"]  # the first camera waits less
