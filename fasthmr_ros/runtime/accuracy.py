"""What a speed path costs in accuracy: how far its joints move from the fp32 torch output of the
same weights (mm, pelvis-aligned, mean over joints and crops).

Measured through the body model, because a small change of a 6D rotation can move a wrist by
centimetres or by nothing: millimetres of joint position are what a user of the output sees.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from fasthmr_ros.evaluation.metrics import mpjpe_mm
from fasthmr_ros.models.body_model import BodyModel

Outputs = Mapping[str, np.ndarray | torch.Tensor]


def body_joints(body: BodyModel, outputs: Outputs) -> torch.Tensor:
    """(B, J, 3) joints in metres of a runner's output (model frame, no camera translation)."""

    device = body.faces_tensor.device
    go, bp, betas = (
        torch.as_tensor(outputs[k]).float().to(device) for k in ("global_orient", "body_pose", "betas")
    )
    with torch.inference_mode():
        return body(go, bp, betas).joints.cpu()


def joint_deviation_mm(body: BodyModel, outputs: Outputs, reference: Outputs) -> float:
    """Mean per-joint distance (mm, pelvis-aligned) between two outputs for the same crops."""
    return mpjpe_mm(body_joints(body, outputs), body_joints(body, reference), body.joint_set)
