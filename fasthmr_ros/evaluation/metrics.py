"""Accuracy metrics of human mesh recovery, in one place (millimetres in, as the papers report).

- MPJPE: mean joint distance after moving both skeletons' pelvis (joint 0) to the origin;
  `mpjpe_mm` takes metres and aligns on the joint set's evaluation pelvis (HMR 2.0's regressed
  pelvis in its 44-joint set).
- PA-MPJPE: the same after the similarity transform (rotation, scale, translation) that best
  aligns prediction to truth (Procrustes): what is left is articulation error alone.
- PVE: mean vertex distance after pelvis alignment (the pelvis of the joints, as for MPJPE).
- Acceleration error: mean distance between predicted and true joint accelerations (second
  differences of the pelvis-aligned joints over consecutive frames), mm per frame squared; it
  measures jitter, which per-frame MPJPE does not see.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fasthmr_ros.models.joints import evaluation_pelvis

PELVIS = 0


def pelvis_aligned(points: np.ndarray, joints: np.ndarray, pelvis: int = PELVIS) -> np.ndarray:
    """(N, K, 3) points minus the pelvis (joint `pelvis`) of (N, J, 3) joints."""
    return points - joints[:, pelvis : pelvis + 1]


def mpjpe(pred: np.ndarray, true: np.ndarray, pelvis: int = PELVIS) -> np.ndarray:
    """(N, J, 3) joints -> (N,) mean per-joint error after aligning joint `pelvis` (input units)."""
    diff = pelvis_aligned(pred, pred, pelvis) - pelvis_aligned(true, true, pelvis)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1)


def mpjpe_mm(pred: npt.ArrayLike, true: npt.ArrayLike, joint_set: str) -> float:
    """One MPJPE in millimetres over every joint and sample of (N, J, 3) joints in metres, aligned
    on the joint set's evaluation pelvis (the figure ECLM and the speed paths compare)."""
    pred_m, true_m = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    return float(mpjpe(pred_m, true_m, evaluation_pelvis(joint_set)).mean() * 1000.0)


def procrustes_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(N, J, 3) predictions moved by the best similarity transform onto (N, J, 3) truths."""
    mu_p, mu_t = pred.mean(axis=1, keepdims=True), true.mean(axis=1, keepdims=True)
    p, t = pred - mu_p, true - mu_t
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, t))  # (N, 3, 3) cross-covariance
    d = np.sign(np.linalg.det(u @ vt))  # no reflections
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rotation = u @ vt  # p @ rotation ~ t
    scale = s.sum(axis=1) / (p**2).sum(axis=(1, 2))
    return scale[:, None, None] * p @ rotation + mu_t


def pa_mpjpe(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(N, J, 3) -> (N,) mean per-joint error after Procrustes alignment."""
    return np.linalg.norm(procrustes_align(pred, true) - true, axis=-1).mean(axis=-1)


def pve(
    pred_verts: np.ndarray, pred_joints: np.ndarray, true_verts: np.ndarray, true_joints: np.ndarray
) -> np.ndarray:
    """(N, V, 3) vertices (with their (N, J, 3) joints) -> (N,) mean vertex error, pelvis-aligned."""
    diff = pelvis_aligned(pred_verts, pred_joints) - pelvis_aligned(true_verts, true_joints)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1)


def accel_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T, J, 3) one track's joints over consecutive frames -> (T-2,) acceleration error per frame."""
    if len(pred) < 3:
        return np.zeros(0)
    a_pred = np.diff(pelvis_aligned(pred, pred), n=2, axis=0)
    a_true = np.diff(pelvis_aligned(true, true), n=2, axis=0)
    return np.linalg.norm(a_pred - a_true, axis=-1).mean(axis=-1)
