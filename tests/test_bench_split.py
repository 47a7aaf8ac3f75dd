"""The non-model cost split runs the real pipeline and reports every stage, model excluded."""

from __future__ import annotations

from fasthmr_ros.bench.pipeline import measure_split
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.pipeline.estimator import MeshEstimator


def test_split_reports_each_stage_without_the_model() -> None:
    estimator = MeshEstimator(embedded_default_model(), resolve_body_model().body)
    report = measure_split(estimator, person_counts=(1, 2), repeats=2, warmup=1, width=320, height=240)
    assert set(report["persons"]) == {"1", "2"}
    one = report["persons"]["1"]
    for stage in ("image_decode", "track", "crop", "smpl", "message_build", "serialise_cdr", "total"):
        assert one[f"{stage}_ms"] > 0.0, stage  # each stage really ran (perf_counter resolves ns)
    assert "model_ms" not in one
    not_stages = ("total_ms", "total_min_ms", "target_ms")
    parts = sum(v for k, v in one.items() if k.endswith("_ms") and k not in not_stages)
    # Every measured stage is in the total, and nothing else is (medians of sums ~ sums of medians).
    assert 0.5 * one["total_ms"] < parts < 2.0 * one["total_ms"]
    assert one["target_ms"] == 15.0 and isinstance(one["meets_target"], bool)
    assert "target_ms" not in report["persons"]["2"]
