"""Training data for the temporal decoders, one module per source (layouts in docs/decoders.md).

- `amass`: AMASS motion files as `MotionClip`s (the motion priors' data).
- `features`: labelled feature sequences (`FeatureSequence`), what the base model saw and
  predicted next to the ground truth (the image-conditioned stages' data).
- `synthetic`: generated motion and a simulated noisy per-frame regressor, so CI can train and
  evaluate decoders without licensed data.
"""

from fasthmr_ros.decoders.data.amass import (
    MotionClip,
    find_motion_files,
    read_amass,
    resample_rotations,
    to_camera_frame,
    write_amass,
)
from fasthmr_ros.decoders.data.common import NUM_BETAS, NUM_BODY_JOINTS
from fasthmr_ros.decoders.data.features import (
    FeatureSequence,
    find_feature_sequences,
    read_feature_sequence,
    write_feature_sequence,
)
from fasthmr_ros.decoders.data.synthetic import (
    noisy_regression_sequence,
    synthetic_clips,
    synthetic_motion,
    synthetic_sequences,
)

__all__ = [
    "NUM_BETAS",
    "NUM_BODY_JOINTS",
    "FeatureSequence",
    "MotionClip",
    "find_feature_sequences",
    "find_motion_files",
    "noisy_regression_sequence",
    "read_amass",
    "read_feature_sequence",
    "resample_rotations",
    "synthetic_clips",
    "synthetic_motion",
    "synthetic_sequences",
    "to_camera_frame",
    "write_amass",
    "write_feature_sequence",
]
