"""Choose the One-Euro filter's defaults on a tuning set of clips (never the held-out set).

    python scripts/tune_one_euro.py TUNING_CLIPS --json docs/results/decoders/one_euro_tuning.json

Runs the embedded default's pipeline over the clips once per grid point and keeps, among the
settings whose clip MPJPE is no higher than the regression head's, the one with the lowest
acceleration error (a robotics user's choice: less jitter at no cost in accuracy); if none
qualifies, the lowest MPJPE. The held-out figures then come from `fasthmr eval --decoder one_euro`
on a fresh set, with these defaults.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from fasthmr_ros.decoders.base import RegressionDecoder
from fasthmr_ros.decoders.one_euro import OneEuroDecoder
from fasthmr_ros.evaluation import accuracy, evaluation_pipeline, mean_pose_of, run_pipeline
from fasthmr_ros.samples.dataset import read_labelled_set

MIN_CUTOFFS_HZ = (0.3, 0.5, 0.7, 1.0, 1.5, 3.0)
BETAS = (0.0, 0.03, 0.1, 0.3, 1.0)
D_CUTOFF_HZ = 1.0
FRAME_RATE = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="labelled clips (`fasthmr synth ... --clips K`), not the held-out set")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    dataset = read_labelled_set(args.data)
    pipeline = evaluation_pipeline()
    body, mean_pose = pipeline.estimator.body, mean_pose_of(pipeline.estimator.model)

    def measure(decoder: RegressionDecoder | OneEuroDecoder) -> dict[str, float]:
        pipeline.decoder = decoder
        pipeline.reset()
        report = accuracy(run_pipeline(pipeline, dataset, progress=False), dataset, body, mean_pose)
        return {"mpjpe_mm": report["mpjpe_mm"], "accel_mm": report["accel_mm"]}

    baseline = measure(RegressionDecoder())
    print(f"regression: {baseline}")
    rows = []
    for min_cutoff, beta in itertools.product(MIN_CUTOFFS_HZ, BETAS):
        row = {
            "min_cutoff_hz": min_cutoff,
            "beta": beta,
            **measure(OneEuroDecoder(min_cutoff, beta, D_CUTOFF_HZ, FRAME_RATE)),
        }
        print(row)
        rows.append(row)
    qualified = [r for r in rows if r["mpjpe_mm"] <= baseline["mpjpe_mm"]]
    chosen = (
        min(qualified, key=lambda r: r["accel_mm"]) if qualified else min(rows, key=lambda r: r["mpjpe_mm"])
    )
    out = {
        "data": args.data,
        "persons": dataset.num_persons,
        "rule": "lowest accel among settings with clip MPJPE <= regression's; else lowest MPJPE",
        "d_cutoff_hz": D_CUTOFF_HZ,
        "frame_rate": FRAME_RATE,
        "regression": baseline,
        "grid": rows,
        "chosen": chosen,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main()
