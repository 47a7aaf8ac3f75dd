"""Accuracy on labelled data: metrics, the evaluation run through the real pipeline, reports."""

from fasthmr_ros.evaluation.metrics import accel_error, mpjpe, pa_mpjpe, procrustes_align, pve
from fasthmr_ros.evaluation.run import Estimates, accuracy, evaluation_pipeline, mean_pose_of, run_pipeline

__all__ = [
    "Estimates",
    "accel_error",
    "accuracy",
    "evaluation_pipeline",
    "mean_pose_of",
    "mpjpe",
    "pa_mpjpe",
    "procrustes_align",
    "pve",
    "run_pipeline",
]
