"""Test helpers: a literal re-statement of the official HMR 2.0 forward pass over a state dict,
and Lightning-style checkpoint files with the official layout.

The reference forward follows docs/model.md operation by operation with plain tensor
ops (explicit softmax attention, no SDPA), so it checks our modules' structure and numerics
independently of how they are written.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from fasthmr_ros.config import ModelConfig


class FakeYacsConfig(dict):
    """A pickled config object, as real Lightning files hold: forces the full-unpickle path."""


def _attn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    B, N, _ = q.shape
    M = k.shape[1]
    q = q.reshape(B, N, heads, -1).transpose(1, 2)
    k = k.reshape(B, M, heads, -1).transpose(1, 2)
    v = v.reshape(B, M, heads, -1).transpose(1, 2)
    w = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    return (w.softmax(-1) @ v).transpose(1, 2).reshape(B, N, -1)


def reference_forward(state: dict[str, torch.Tensor], cfg: ModelConfig, crops: torch.Tensor) -> dict:
    s = {k: v.double() for k, v in state.items()}
    bb, hd = cfg.backbone, cfg.head
    x = crops.double()[:, :, :, 32:-32]
    x = F.conv2d(
        x, s["backbone.patch_embed.proj.weight"], s["backbone.patch_embed.proj.bias"], stride=16, padding=2
    )
    x = x.flatten(2).transpose(1, 2)
    pos = s["backbone.pos_embed"]
    x = x + pos[:, 1:] + pos[:, :1]
    C = x.shape[-1]
    for i in range(bb.depth):
        p = f"backbone.blocks.{i}."
        h = F.layer_norm(x, (C,), s[p + "norm1.weight"], s[p + "norm1.bias"], 1e-6)
        qkv = h @ s[p + "attn.qkv.weight"].T + s[p + "attn.qkv.bias"]
        q, k, v = qkv[..., :C], qkv[..., C : 2 * C], qkv[..., 2 * C :]
        x = x + _attn(q, k, v, bb.num_heads) @ s[p + "attn.proj.weight"].T + s[p + "attn.proj.bias"]
        h = F.layer_norm(x, (C,), s[p + "norm2.weight"], s[p + "norm2.bias"], 1e-6)
        h = F.gelu(h @ s[p + "mlp.fc1.weight"].T + s[p + "mlp.fc1.bias"])
        x = x + h @ s[p + "mlp.fc2.weight"].T + s[p + "mlp.fc2.bias"]
    ctx = F.layer_norm(x, (C,), s["backbone.last_norm.weight"], s["backbone.last_norm.bias"], 1e-6)
    B = x.shape[0]
    t = "smpl_head.transformer."
    tok = torch.zeros(B, 1, 1, dtype=torch.float64)
    y = tok @ s[t + "to_token_embedding.weight"].T + s[t + "to_token_embedding.bias"] + s[t + "pos_embedding"]
    D = y.shape[-1]
    inner = hd.heads * hd.dim_head
    for layer in range(hd.depth):
        p = f"{t}transformer.layers.{layer}."
        h = F.layer_norm(y, (D,), s[p + "0.norm.weight"], s[p + "0.norm.bias"], 1e-5)
        qkv = h @ s[p + "0.fn.to_qkv.weight"].T
        a = _attn(qkv[..., :inner], qkv[..., inner : 2 * inner], qkv[..., 2 * inner :], hd.heads)
        y = y + a @ s[p + "0.fn.to_out.0.weight"].T + s[p + "0.fn.to_out.0.bias"]
        h = F.layer_norm(y, (D,), s[p + "1.norm.weight"], s[p + "1.norm.bias"], 1e-5)
        q = h @ s[p + "1.fn.to_q.weight"].T
        kv = ctx @ s[p + "1.fn.to_kv.weight"].T
        a = _attn(q, kv[..., :inner], kv[..., inner:], hd.heads)
        y = y + a @ s[p + "1.fn.to_out.0.weight"].T + s[p + "1.fn.to_out.0.bias"]
        h = F.layer_norm(y, (D,), s[p + "2.norm.weight"], s[p + "2.norm.bias"], 1e-5)
        h = F.gelu(h @ s[p + "2.fn.net.0.weight"].T + s[p + "2.fn.net.0.bias"])
        y = y + h @ s[p + "2.fn.net.3.weight"].T + s[p + "2.fn.net.3.bias"]
    y = y[:, 0]
    pose = y @ s["smpl_head.decpose.weight"].T + s["smpl_head.decpose.bias"] + s["smpl_head.init_body_pose"]
    betas = y @ s["smpl_head.decshape.weight"].T + s["smpl_head.decshape.bias"] + s["smpl_head.init_betas"]
    cam = y @ s["smpl_head.deccam.weight"].T + s["smpl_head.deccam.bias"] + s["smpl_head.init_cam"]
    # Official 6D layout: reshape (-1, 2, 3) then transpose -> columns a1, a2.
    x6 = pose.reshape(-1, 2, 3).permute(0, 2, 1)
    a1, a2 = x6[:, :, 0], x6[:, :, 1]
    b1 = F.normalize(a1, dim=1)
    b2 = F.normalize(a2 - torch.einsum("bi,bi->b", b1, a2).unsqueeze(-1) * b1, dim=1)
    R = torch.stack((b1, b2, torch.cross(b1, b2, dim=1)), dim=-1).reshape(B, -1, 3, 3)
    return {"global_orient": R[:, :1], "body_pose": R[:, 1:], "betas": betas, "pred_cam": cam, "tokens": ctx}


def randomize_(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial weights everywhere (zeros or identity would hide layout bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            std = 0.02 if "weight" in name or "embed" in name else 0.01
            if "norm" in name and name.endswith("weight"):
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("init_cam"):
                t.copy_(torch.tensor([[0.9, 0.05, -0.02]]))
            else:
                t.copy_(std * math.sqrt(2) * torch.randn(t.shape, generator=g))


def write_lightning_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """A file shaped like an official 4D-Humans / CameraHMR Lightning checkpoint."""
    state = dict(model.state_dict())
    # Entries real files carry that a predictor does not need.
    state["discriminator.D_conv1.weight"] = torch.zeros(32, 9, 1, 1)
    state["smpl.shapedirs"] = torch.zeros(6890, 3, 10)
    state["smpl.J_regressor_extra"] = torch.zeros(9, 6890)
    payload = {
        "epoch": 35,
        "global_step": 1000000,
        "pytorch-lightning_version": "2.0.0",
        "state_dict": state,
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-5}]}],
        "lr_schedulers": [],
        "hyper_parameters": {"cfg": FakeYacsConfig(MODEL={"BACKBONE": {"TYPE": "vit"}})},
    }
    torch.save(payload, path)
    return path
