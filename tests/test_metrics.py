"""Accuracy metrics: invariances each one promises, and sensitivity to what it measures."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from fasthmr_ros.evaluation import metrics

RNG = np.random.default_rng(0)
TRUE = RNG.normal(scale=0.3, size=(5, 24, 3))


def test_mpjpe_ignores_translation_but_not_rotation() -> None:
    np.testing.assert_allclose(metrics.mpjpe(TRUE + np.array([1.0, -2.0, 3.0]), TRUE), 0.0, atol=1e-12)
    turned = TRUE @ Rotation.from_euler("y", 30, degrees=True).as_matrix().T
    assert np.all(metrics.mpjpe(turned, TRUE) > 0.05)


def test_pa_mpjpe_removes_exactly_a_similarity_transform() -> None:
    R = Rotation.from_euler("xyz", [20, -70, 110], degrees=True).as_matrix()
    moved = 1.7 * TRUE @ R.T + [0.3, 0.1, 4.0]
    np.testing.assert_allclose(metrics.pa_mpjpe(moved, TRUE), 0.0, atol=1e-9)
    bent = TRUE.copy()
    bent[:, 20:] += 0.1  # articulation error survives the alignment
    assert np.all(metrics.pa_mpjpe(bent, TRUE) > 0.005)
    mirrored = TRUE * [-1.0, 1.0, 1.0]  # a reflection is not a rotation
    assert np.all(metrics.pa_mpjpe(mirrored, TRUE) > 0.01)


def test_pve_aligns_on_the_joints_pelvis() -> None:
    verts = RNG.normal(size=(5, 100, 3))
    shift = np.array([0.0, 0.0, 2.0])
    np.testing.assert_allclose(metrics.pve(verts + shift, TRUE + shift, verts, TRUE), 0.0, atol=1e-12)
    assert np.allclose(metrics.pve(verts + 0.01, TRUE, verts, TRUE), np.sqrt(3) * 0.01)


def test_accel_error_sees_jitter_not_a_constant_offset() -> None:
    t = np.linspace(0, 1, 30)[:, None, None]
    motion = np.sin(2 * np.pi * t + TRUE[0][None])  # (30, 24, 3) smooth
    np.testing.assert_allclose(metrics.accel_error(motion + 0.05, motion), 0.0, atol=1e-12)
    jitter = motion + RNG.normal(scale=0.01, size=motion.shape)
    assert metrics.accel_error(jitter, motion).mean() > 0.01
    assert metrics.accel_error(motion[:2], motion[:2]).size == 0
