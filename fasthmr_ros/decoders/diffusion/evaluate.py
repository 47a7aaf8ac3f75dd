"""Evidence for the diffusion decoder: jitter and accuracy against a noisy single-frame regressor.

Streams held-out synthetic sequences (or labelled feature sequences) through the real
`DiffusionDecoder` frame by frame, all tracks batched as persons of one frame, each track's ring
buffer feeding it, and compares with the regression poses it was given:
MPJPE (mm, root-relative SMPL joints) and acceleration error (mm/frame^2), both on the
ground-truth skeleton so only the pose differs. `fasthmr eval-decoder` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.decoders.base import DecoderInput
from fasthmr_ros.decoders.data import FeatureSequence
from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder
from fasthmr_ros.decoders.diffusion.twist_swing import forward_kinematics, rest_per_frame
from fasthmr_ros.decoders.history import TrackFrame, TrackRingBuffer
from fasthmr_ros.models.body_model import BodyModel


@dataclass
class Metrics:
    mpjpe_mm: float
    accel_mm: float

    def as_dict(self) -> dict[str, float]:
        return {"mpjpe_mm": self.mpjpe_mm, "accel_error_mm": self.accel_mm}


def stream(decoder: DiffusionDecoder, sequences: Sequence[FeatureSequence]) -> list[np.ndarray]:
    """Run every sequence through the decoder as concurrent tracks.

    Returns per sequence the decoded local rotations (T, 24, 3, 3) aligned to the frames they
    describe (lookahead k: the last k frames get the regression pose).
    """
    buffer = TrackRingBuffer(window=decoder.history_frames, max_missed_frames=0)
    outputs = [
        np.concatenate([s.pred_global_orient[:, None], s.pred_body_pose], axis=1).astype(np.float32)
        for s in sequences
    ]
    k = decoder.lookahead
    for t in tqdm(range(max(len(s) for s in sequences)), desc="stream", unit="frame"):
        live = [i for i, s in enumerate(sequences) if t < len(s)]
        batch = DecoderInput(
            track_ids=live,
            image_tokens=torch.zeros(len(live), 1, 1),
            head_token=torch.as_tensor(np.stack([sequences[i].head_token[t] for i in live])),
            global_orient=torch.as_tensor(np.stack([sequences[i].pred_global_orient[t] for i in live]))[
                :, None
            ],
            body_pose=torch.as_tensor(np.stack([sequences[i].pred_body_pose[t] for i in live])),
            betas=torch.as_tensor(np.stack([sequences[i].pred_betas[t] for i in live])),
            pred_cam=torch.as_tensor(np.stack([sequences[i].pred_cam[t] for i in live])),
            histories=[buffer.history(i) for i in live],
        )
        out = decoder.decode(batch)
        for row, i in enumerate(live):
            if t >= k:
                outputs[i][t - k, 0] = out.global_orient[row, 0].numpy()
                outputs[i][t - k, 1:] = out.body_pose[row].numpy()
            seq = sequences[i]
            buffer.push(
                i,
                TrackFrame(
                    t,
                    seq.head_token[t],
                    seq.pred_global_orient[t],
                    seq.pred_body_pose[t],
                    seq.pred_betas[t],
                    seq.pred_cam[t],
                ),
            )
        buffer.end_frame(set(live))
    return outputs


@torch.no_grad()
def joints_mm(body_model: BodyModel, rotations: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """(T, 24, 3, 3) on the skeleton of betas (T, 10) -> root-relative joints (T, 24, 3) in mm."""
    rest = rest_per_frame(body_model, betas, len(rotations))
    points, _ = forward_kinematics(torch.as_tensor(rotations, dtype=torch.float32), rest)
    joints = points[:, :24] - points[:, :1]
    return joints.numpy() * 1000.0


def metrics(pred: np.ndarray, gt: np.ndarray) -> Metrics:
    """Joints (T, J, 3) in mm -> MPJPE and acceleration error (second differences)."""
    mpjpe = np.linalg.norm(pred - gt, axis=-1).mean()

    def accel(x: np.ndarray) -> np.ndarray:
        return x[2:] - 2 * x[1:-1] + x[:-2]

    accel_err = np.linalg.norm(accel(pred) - accel(gt), axis=-1).mean()
    return Metrics(float(mpjpe), float(accel_err))


def evaluate(
    decoder: DiffusionDecoder,
    body_model: BodyModel,
    sequences: Sequence[FeatureSequence],
    plot: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Regression vs diffusion over the frames the decoder handled (after each track's warm-up)."""
    decoded = stream(decoder, sequences)
    start, k = decoder.min_history - 1, decoder.lookahead
    pred_reg, pred_dif, truth = [], [], []
    for seq, rot in zip(sequences, decoded, strict=True):
        end = len(seq) - k
        if end - start < 3:
            continue
        span = slice(start, end)
        gt_rot = np.concatenate([seq.global_orient[:, None], seq.body_pose], axis=1)[span]
        reg_rot = np.concatenate([seq.pred_global_orient[:, None], seq.pred_body_pose], axis=1)[span]
        betas = seq.betas[span]
        truth.append(joints_mm(body_model, gt_rot, betas))
        pred_reg.append(joints_mm(body_model, reg_rot, betas))
        pred_dif.append(joints_mm(body_model, rot[span], betas))
    if not truth:
        raise ValueError("no sequence is longer than the decoder's warm-up plus lookahead")
    result = {
        name: _pooled(preds, truth) for name, preds in (("regression", pred_reg), ("diffusion", pred_dif))
    }
    if plot is not None:
        _plot(plot, truth[0], pred_reg[0], pred_dif[0])
    return result


def _pooled(preds: list[np.ndarray], truth: list[np.ndarray]) -> dict[str, float]:
    """Frame-weighted means over sequences."""
    per = [metrics(p, g) for p, g in zip(preds, truth, strict=True)]
    frames = np.array([len(g) for g in truth], dtype=np.float64)
    return {
        "mpjpe_mm": float(np.average([m.mpjpe_mm for m in per], weights=frames)),
        "accel_error_mm": float(np.average([m.accel_mm for m in per], weights=frames - 2)),
    }


def _plot(path: Path, truth: np.ndarray, reg: np.ndarray, dif: np.ndarray, joint: int = 20) -> None:
    """One joint's height over time (left wrist by default): what jitter removal looks like."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(-truth[:, joint, 1], "k-", lw=2, label="ground truth")
    ax.plot(-reg[:, joint, 1], "r-", lw=0.8, alpha=0.8, label="regression (per frame)")
    ax.plot(-dif[:, joint, 1], "b-", lw=1.2, label="diffusion decoder")
    ax.set_xlabel("frame")
    ax.set_ylabel("left wrist height rel. pelvis (mm)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
