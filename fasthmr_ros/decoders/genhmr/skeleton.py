"""SMPL joint positions from body rotations, cheaply: the rest skeleton plus forward kinematics.

Why not the full mesh: the tokenizer's training loss and its millimetre report need only the 24
kinematic joints at the template shape, so we skip skinning 6890 vertices. The rest joints come
from the SMPL model itself (J_regressor @ v_template), so the numbers are those of the real
SMPL skeleton whenever the real model is loaded.
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rigid_transform
from torch import nn

from fasthmr_ros.models.body_model import BodyModel

NUM_BODY_JOINTS = 21  # SMPL joints 1..21; 22, 23 are the hands (identity here)


def full_body_pose(body21: torch.Tensor) -> torch.Tensor:
    """(B, 21, 3, 3) -> (B, 23, 3, 3), hands set to identity."""
    eye = torch.eye(3, dtype=body21.dtype, device=body21.device).expand(body21.shape[0], 2, 3, 3)
    return torch.cat([body21, eye], dim=1)


class RestSkeleton(nn.Module):
    rest_joints: torch.Tensor  # buffers, registered in __init__
    parents: torch.Tensor

    def __init__(self, rest_joints: torch.Tensor, parents: torch.Tensor):
        super().__init__()
        self.register_buffer("rest_joints", rest_joints.float())  # (24, 3)
        self.register_buffer("parents", parents.long())  # (24,)

    @classmethod
    def from_body_model(cls, body_model: BodyModel) -> RestSkeleton:
        smpl = body_model.smpl
        rest = smpl.J_regressor @ smpl.v_template  # (24, 3)
        return cls(rest.detach(), body_model.parents.detach())

    def forward(self, body21: torch.Tensor, global_orient: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 21, 3, 3) body rotations [+ (B, 1, 3, 3) root] -> (B, 24, 3) joints, root at origin."""
        B = body21.shape[0]
        if global_orient is None:
            global_orient = torch.eye(3, dtype=body21.dtype, device=body21.device).expand(B, 1, 3, 3)
        rots = torch.cat([global_orient, full_body_pose(body21)], dim=1)  # (B, 24, 3, 3)
        joints = self.rest_joints.to(rots.dtype).expand(B, -1, -1)
        posed, _ = batch_rigid_transform(rots, joints, self.parents, dtype=rots.dtype)
        return posed - posed[:, :1]
