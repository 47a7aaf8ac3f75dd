"""COCO-17 2D keypoints of labelled persons, exact or with a 2D detector's error added.

What GenHMR's 2D-guided refinement needs, without a keypoint detector trained on this world: the
true body's COCO-17 points projected with the true camera, plus independent Gaussian noise per
coordinate whose standard deviation is a stated fraction of the person's box height (a 2D
detector's error grows with the person's size in the image). Every point gets confidence 1.
"""

from __future__ import annotations

import numpy as np
import torch

from fasthmr_ros.decoders.genhmr.keypoints import coco17_joint_index
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.samples.dataset import LabelledSet


@torch.no_grad()
def true_keypoints(dataset: LabelledSet, body: BodyModel, chunk: int = 256) -> np.ndarray:
    """(P, 17, 2) COCO-17 pixels of every labelled person: the body model's joints of the labelled
    pose and shape, moved by `transl` into the camera frame, projected with the image's K."""
    index = coco17_joint_index(body.joint_set)
    points = []
    for start in range(0, dataset.num_persons, chunk):
        sl = slice(start, start + chunk)
        out = body(
            torch.as_tensor(dataset.global_orient[sl], dtype=torch.float32)[:, None],
            torch.as_tensor(dataset.body_pose[sl], dtype=torch.float32),
            torch.as_tensor(dataset.betas[sl], dtype=torch.float32),
        )
        points.append(out.joints[:, index].double().numpy() + dataset.transl[sl, None])
    camera = np.concatenate(points)  # (P, 17, 3)
    K = dataset.intrinsics[dataset.image_index]  # (P, 3, 3)
    uvw = np.einsum("pij,pkj->pki", K, camera)
    return uvw[..., :2] / uvw[..., 2:3]


def noisy_keypoints(dataset: LabelledSet, body: BodyModel, noise: float, seed: int = 0) -> np.ndarray:
    """(P, 17, 3) x, y pixels and confidence: `true_keypoints` plus N(0, (noise * box height)^2)
    per coordinate (noise 0: the exact points)."""
    if noise < 0:
        raise InputError(f"keypoint noise must be >= 0, got {noise}")
    points = true_keypoints(dataset, body)
    height = dataset.box_heights
    rng = np.random.default_rng(seed)
    points = points + rng.normal(size=points.shape) * (noise * height)[:, None, None]
    return np.concatenate([points, np.ones((*points.shape[:2], 1))], axis=-1)
