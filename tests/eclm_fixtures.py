"""A backbone built so that ECLM has a known right answer."""

from __future__ import annotations

import torch

from fasthmr_ros.config import model_preset
from fasthmr_ros.models.hmr import HMR

DEPTH = 8
NEAR_IDENTITY = (1, 4, 5, 6)  # blocks whose residual branches are ~0
OUTPUT_PARAMS = ("attn.proj.weight", "attn.proj.bias", "mlp.fc2.weight", "mlp.fc2.bias")


def constructed_model(seed: int = 0) -> HMR:
    """8 blocks; blocks 4-6 share their input-side weights and, like block 1, do almost nothing.

    Merging a near-identity block i with block i+1 gives theta_{i+1}; 4..7 merge to theta_7
    because 4-6 share every input-side tensor. Any window that drops a normal block is far off.
    """
    cfg = model_preset("tiny")
    cfg.backbone.depth = DEPTH
    torch.manual_seed(seed)
    model = HMR(cfg).eval()
    with torch.no_grad():
        model.backbone.pos_embed.normal_(std=0.5)
        template = {k: v.clone() for k, v in model.backbone.blocks[4].state_dict().items()}
        for i in NEAR_IDENTITY:
            block = model.backbone.blocks[i]
            state = block.state_dict()
            for key, value in state.items():
                if key in OUTPUT_PARAMS:
                    value.normal_(std=1e-5)
                elif i in (4, 5, 6):
                    value.copy_(template[key])
        for p in model.smpl_head.parameters():  # make the pose read-out sensitive
            p.mul_(2.0)
    return model
