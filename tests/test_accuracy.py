"""The shipped default on freshly generated held-out stand-in scenes, through the whole pipeline.

A regression in crops, camera maths, merging or decoding shows up here as lost accuracy. The
bars are what the shipped weights reach with a margin (docs/accuracy.md): MPJPE clearly under
the mean pose they regress around (measured 1.51x on this set), and bodies placed where the
people are. The issue's bar (twice as accurate as the mean pose) is NOT reached by these weights.
"""

from __future__ import annotations

import pytest

from fasthmr_ros.evaluation import accuracy, evaluation_pipeline, mean_pose_of, run_pipeline
from fasthmr_ros.samples.synth import write_synth_set

HELD_OUT_SEED = 9001  # training used seed 1 (docs/accuracy.md)
JOINTS2D_BAR = 0.15  # mean 2D joint error as a fraction of the box height (measured: 0.116)
MEAN_POSE_RATIO_BAR = 1.4  # mean-pose MPJPE / model MPJPE (measured: 1.51)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory):
    return write_synth_set(
        tmp_path_factory.mktemp("held_out") / "set", images=16, seed=HELD_OUT_SEED, progress=False
    )


def _evaluate(dataset) -> dict:
    pipeline = evaluation_pipeline()
    assert pipeline.embedded  # the tests never see the user's caches: this is the shipped default
    estimates = run_pipeline(pipeline, dataset, progress=False)
    return accuracy(estimates, dataset, pipeline.estimator.body, mean_pose_of(pipeline.estimator.model))


def test_embedded_default_beats_the_mean_pose_and_places_bodies_on_people(held_out) -> None:
    report = _evaluate(held_out)
    assert report["persons"] >= 16 and report["missed"] == 0
    assert report["mpjpe_mm"] * MEAN_POSE_RATIO_BAR <= report["mean_pose_mpjpe_mm"], report
    assert report["joints2d_box_fraction"] < JOINTS2D_BAR, report


def test_eval_cli_writes_the_documented_report(held_out, tmp_path, capsys) -> None:
    import json

    from fasthmr_ros.cli.main import main

    out = tmp_path / "report.json"
    assert main(["eval", str(held_out.root), "--limit", "4", "--token-merging", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "mean_pose_mpjpe_mm", "per_crop_ms_median"):
        assert report[key] > 0, key
    assert "accel_mm" not in report  # stills only: no clip, no acceleration
    assert report["token_merging"]["schedule"] == [40, 40, 22]
    assert out.with_suffix(".png").stat().st_size > 0
    assert "MPJPE (mm)" in capsys.readouterr().out
