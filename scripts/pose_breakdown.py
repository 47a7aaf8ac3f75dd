"""Where a trained HMR's pose error comes from: root orientation vs articulation, against the
mean pose it regresses around, on the first persons of a labelled set (docs/accuracy.md).

    python scripts/pose_breakdown.py CKPT DATA --json OUT

A model that cannot tell a body's heading collapses its root rotation to the mean (the spread
of its predictions is far below the truth's) and its root error stays near 90 degrees.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from fasthmr_ros.evaluation.metrics import mpjpe
from fasthmr_ros.models.checkpoint import load_model
from fasthmr_ros.models.default import resolve_body_model
from fasthmr_ros.models.hmr import CROP_COLUMN_MARGIN
from fasthmr_ros.models.rotation import rot6d_to_rotmat
from fasthmr_ros.samples.dataset import read_labelled_set, usable_persons
from fasthmr_ros.training.hmr import make_batch


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) x2 -> (...) geodesic angle between rotations, degrees."""
    cos = ((a.transpose(-1, -2) @ b).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("--persons", type=int, default=128)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    model = (model[0] if isinstance(model, tuple) else model).eval()
    dataset = read_labelled_set(args.data)
    batch = make_batch(dataset, usable_persons(dataset)[: args.persons], 0.0, np.random.default_rng(0))
    with torch.no_grad():
        out = model(batch.crops)
        upside_down = model(torch.flip(batch.crops, dims=[2, 3]))["pose_6d"]
        patches = model.backbone.patch_embed(batch.crops[..., CROP_COLUMN_MARGIN:-CROP_COLUMN_MARGIN])
    mean = rot6d_to_rotmat(model.smpl_head.init_body_pose.reshape(-1, 6))  # (24, 3, 3)
    root, true_root = out["global_orient"][:, 0], batch.global_orient[:, 0]
    root_err = angle_deg(root, true_root)
    body_err_mean = angle_deg(mean[1:].expand_as(batch.body_pose), batch.body_pose).mean()
    body = resolve_body_model().body
    mean_body = mean[1:].expand_as(batch.body_pose)
    mean_betas = model.smpl_head.init_betas.expand_as(batch.betas)

    def pelvis_mpjpe(root: torch.Tensor, pose: torch.Tensor, betas: torch.Tensor) -> float:
        """Pelvis-aligned MPJPE (mm) of one combination of root, articulation and shape."""
        with torch.no_grad():
            joints = body(root, pose, betas).smpl_joints
        return float(mpjpe(joints.double().numpy(), batch.joints3d.double().numpy()).mean() * 1000)

    report = {
        "checkpoint": args.checkpoint,
        "data": args.data,
        "persons": len(batch.crops),
        "root_error_deg_median": float(root_err.median()),
        "root_error_deg_histogram_30deg_bins": np.histogram(root_err, bins=np.arange(0, 181, 30))[0].tolist(),
        "mean_pose_root_error_deg_median": float(angle_deg(mean[0].expand_as(true_root), true_root).median()),
        "root_spread_predicted": float(root.std(0).mean()),
        "root_spread_true": float(true_root.std(0).mean()),
        "body_pose_error_deg": float(angle_deg(out["body_pose"], batch.body_pose).mean()),
        # Which half of the pose the error sits in: each model part swapped for the truth or the mean.
        "mpjpe_mm": {
            "model": pelvis_mpjpe(out["global_orient"], out["body_pose"], out["betas"]),
            "mean_pose": pelvis_mpjpe(mean[:1].expand_as(true_root[:, None]), mean_body, mean_betas),
            "true_root_mean_body": pelvis_mpjpe(batch.global_orient, mean_body, mean_betas),
            "true_root_model_body": pelvis_mpjpe(batch.global_orient, out["body_pose"], out["betas"]),
            "model_root_mean_body": pelvis_mpjpe(out["global_orient"], mean_body, out["betas"]),
        },
        "mean_pose_body_pose_error_deg": float(body_err_mean),
        # A backbone without position signal sees a bag of patches: turning the crop upside down
        # then hardly changes its output, compared with showing it another person.
        "position_embedding_norm": float(model.backbone.pos_embed[0, 1:].norm(dim=-1).mean()),
        "patch_embedding_norm": float(patches.norm(dim=-1).mean()),
        "pose6d_change_upside_down": float((upside_down - out["pose_6d"]).abs().mean()),
        "pose6d_change_other_person": float((out["pose_6d"].roll(1, 0) - out["pose_6d"]).abs().mean()),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
