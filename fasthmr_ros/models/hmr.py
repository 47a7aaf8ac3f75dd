"""The HMR 2.0 / CameraHMR network: ViT backbone + SMPL transformer head."""

from __future__ import annotations

import torch
from torch import nn

from fasthmr_ros.config import MergingConfig, ModelConfig
from fasthmr_ros.merging.schedule import TokenSchedule
from fasthmr_ros.models.smpl_head import SMPLHead
from fasthmr_ros.models.vit import ViT

# Normalisation the official models were trained with (RGB on 0..1).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
CROP_SIZE = 256
# HMR 2.0 trains with a 256x256 crop and slices these columns off before the backbone.
CROP_COLUMN_MARGIN = 32
# Focal length (pixels) of the virtual camera of a 256 crop.
CROP_FOCAL = 5000.0


class HMR(nn.Module):
    """Normalised crops (B, 3, 256, 256) -> SMPL parameters, crop camera and tokens.

    Output dict: global_orient (B,1,3,3), body_pose (B,23,3,3), betas (B,10), pred_cam (B,3),
    pose_6d (B,144), head_token (B,D), image_tokens (B,N,C); CameraHMR adds keypoints_2d (B,44,2).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = ViT(config.backbone)
        self.smpl_head = SMPLHead(config.head, context_dim=config.backbone.embed_dim)

    @property
    def needs_bbox_info(self) -> bool:
        return self.config.head.kind == "camerahmr"

    def set_token_merging(self, cfg: MergingConfig | None) -> TokenSchedule:
        """Switch Mask-ToMe on with `cfg`'s schedule, or off with None; returns the schedule."""
        grid = self.backbone.grid_size
        schedule = (
            TokenSchedule()
            if cfg is None
            else TokenSchedule.from_config(cfg, grid[0] * grid[1], len(self.backbone.blocks))
        )
        self.backbone.set_token_schedule(schedule)
        return schedule

    def forward(
        self,
        crops: torch.Tensor,
        bbox_info: torch.Tensor | None = None,
        person_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """person_mask: (B, N) bool person patches for Mask-ToMe (ignored when merging is off).

        With token merging on, the head attends to the merged tokens with their sizes and the
        output also holds token_sizes (B, N').
        """
        x = crops[:, :, :, CROP_COLUMN_MARGIN:-CROP_COLUMN_MARGIN]  # (B, 3, 256, 192)
        tokens, sizes = self.backbone.forward_tokens(x, person_mask)
        out = self.smpl_head(tokens, bbox_info=bbox_info, token_sizes=sizes)
        if sizes is not None:
            out["token_sizes"] = sizes
        out["image_tokens"] = tokens
        return out
