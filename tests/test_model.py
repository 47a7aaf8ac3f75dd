"""The HMR network against the official structure, and checkpoint loading in every format."""

from __future__ import annotations

import pytest
import torch
from official_layout import randomize_, reference_forward, write_lightning_checkpoint

from fasthmr_ros import load_model
from fasthmr_ros.config import model_preset
from fasthmr_ros.errors import CheckpointError, MissingFileError
from fasthmr_ros.models.checkpoint import infer_config, save_checkpoint
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.models.rotation import rot6d_to_rotmat, rotmat_to_rot6d


def _official_key_names(depth: int, head_depth: int) -> set[str]:
    """Key names of HMR 2.0's backbone and head, as docs/model.md lists them."""
    keys = {"backbone.pos_embed", "backbone.patch_embed.proj.weight", "backbone.patch_embed.proj.bias"}
    keys |= {f"backbone.last_norm.{p}" for p in ("weight", "bias")}
    for i in range(depth):
        for sub in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"):
            keys |= {f"backbone.blocks.{i}.{sub}.{p}" for p in ("weight", "bias")}
    head = {"smpl_head.init_body_pose", "smpl_head.init_betas", "smpl_head.init_cam"}
    head |= {"smpl_head.transformer.pos_embedding"}
    head |= {f"smpl_head.transformer.to_token_embedding.{p}" for p in ("weight", "bias")}
    for layer in range(head_depth):
        p = f"smpl_head.transformer.transformer.layers.{layer}."
        head |= {p + "0.fn.to_qkv.weight", p + "1.fn.to_q.weight", p + "1.fn.to_kv.weight"}
        for sub in (
            "0.norm",
            "0.fn.to_out.0",
            "1.norm",
            "1.fn.to_out.0",
            "2.norm",
            "2.fn.net.0",
            "2.fn.net.3",
        ):
            head |= {f"{p}{sub}.weight", f"{p}{sub}.bias"}
    for dec in ("decpose", "decshape", "deccam"):
        head |= {f"smpl_head.{dec}.weight", f"smpl_head.{dec}.bias"}
    return keys | head


def test_vit_h_structure_matches_official_layout() -> None:
    with torch.device("meta"):
        model = HMR(model_preset("vit_h"))
    state = model.state_dict()
    assert set(state) == _official_key_names(32, 6)
    backbone = {k: v for k, v in state.items() if k.startswith("backbone.")}
    head_params = sum(p.numel() for n, p in model.named_parameters() if n.startswith("smpl_head."))
    assert len(backbone) == 389
    assert sum(v.numel() for v in backbone.values()) == pytest.approx(630.9e6, rel=1e-3)
    assert len([k for k in state if k.startswith("smpl_head.")]) == 114
    assert head_params == pytest.approx(39.5e6, rel=5e-3)
    assert state["backbone.pos_embed"].shape == (1, 193, 1280)
    assert state["backbone.blocks.0.attn.qkv.weight"].shape == (3840, 1280)
    assert state["smpl_head.transformer.transformer.layers.0.1.fn.to_kv.weight"].shape == (1024, 1280)
    assert state["smpl_head.transformer.transformer.layers.0.0.fn.to_qkv.weight"].shape == (1536, 1024)


@pytest.mark.parametrize("preset", ["tiny", "vit_s"])
def test_forward_matches_reference_implementation(preset: str) -> None:
    cfg = model_preset(preset)
    if preset == "vit_s":
        cfg.backbone.depth = 3  # structure identical; keep CI fast
    model = HMR(cfg).eval()
    randomize_(model, seed=1)
    crops = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model(crops)
    ref = reference_forward(model.state_dict(), cfg, crops)
    assert out["global_orient"].shape == (2, 1, 3, 3)
    assert out["body_pose"].shape == (2, 23, 3, 3)
    assert out["image_tokens"].shape == (2, 192, cfg.backbone.embed_dim)
    for key, ref_key in (
        ("global_orient",) * 2,
        ("body_pose",) * 2,
        ("betas",) * 2,
        ("pred_cam",) * 2,
        ("image_tokens", "tokens"),
    ):
        diff = (out[key].double() - ref[ref_key]).abs().max().item()
        assert diff < 1e-4, f"{key} differs from the reference by {diff}"


def test_rot6d_layout_is_official_columns() -> None:
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    assert torch.allclose(rot6d_to_rotmat(x)[0], torch.eye(3))
    # a1 = x[0:3] is the first column, a2 = x[3:6] (orthogonalised) the second.
    x = torch.tensor([[0.0, 2.0, 0.0, -1.0, 0.5, 0.0]])
    R = rot6d_to_rotmat(x)[0]
    assert torch.allclose(R[:, 0], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(R[:, 1], torch.tensor([-1.0, 0.0, 0.0]))
    assert torch.allclose(R[:, 2], torch.tensor([0.0, 0.0, 1.0]))
    R = rot6d_to_rotmat(torch.randn(50, 6))
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand(50, 3, 3), atol=1e-5)
    assert torch.allclose(torch.det(R), torch.ones(50), atol=1e-5)
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(R)), R, atol=1e-5)


def test_lightning_checkpoint_loads_and_matches(tmp_path) -> None:
    cfg = model_preset("tiny")
    model = HMR(cfg).eval()
    randomize_(model, seed=3)
    path = write_lightning_checkpoint(model, tmp_path / "epoch=35-step=1000000.ckpt")
    loaded = load_model(path)
    assert loaded.config.head.kind == "hmr2"
    assert loaded.config.backbone.depth == cfg.backbone.depth
    crops = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        a, b = model(crops), loaded(crops)
    assert torch.equal(a["body_pose"], b["body_pose"]) and torch.equal(a["pred_cam"], b["pred_cam"])


def test_camerahmr_checkpoint_is_recognised(tmp_path) -> None:
    cfg = model_preset("tiny")
    cfg.head.kind = "camerahmr"
    model = HMR(cfg).eval()
    randomize_(model, seed=4)
    assert model.smpl_head.transformer.to_token_embedding.weight.shape[1] == 3 + 144 + 10 + 3
    path = write_lightning_checkpoint(model, tmp_path / "camerahmr_checkpoint_cleaned.ckpt")
    loaded = load_model(path)
    assert loaded.config.head.kind == "camerahmr"
    info = torch.tensor([[0.1, -0.05, 0.4]])
    with torch.no_grad():
        out = loaded(torch.randn(1, 3, 256, 256), bbox_info=info)
    assert out["keypoints_2d"].shape == (1, 44, 2)
    with pytest.raises(ValueError, match="bbox_info"):
        loaded(torch.randn(1, 3, 256, 256))


def test_own_format_roundtrip_keeps_architecture(tmp_path) -> None:
    cfg = model_preset("tiny")
    cfg.backbone.depth = 3
    cfg.merge_plan = [[1, 2]]
    cfg.original_depth = 4
    model = HMR(cfg).eval()
    randomize_(model, seed=5)
    path = save_checkpoint(model, tmp_path / "merged.pt")
    # Loads with the safe unpickler: nothing but tensors and plain values inside.
    torch.load(path, weights_only=True)
    loaded = load_model(path)
    assert loaded.config.backbone.depth == 3 and loaded.config.merge_plan == [[1, 2]]
    crops = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.equal(model(crops)["betas"], loaded(crops)["betas"])


def test_checkpoint_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(MissingFileError, match="fasthmr download hmr2"):
        load_model(tmp_path / "nope.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model(garbage)
    torch.save({"state_dict": {"encoder.weight": torch.zeros(2)}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="no 'backbone"):
        load_model(tmp_path / "other.ckpt")
    model = HMR(model_preset("tiny"))
    state = dict(model.state_dict())
    del state["backbone.blocks.1.mlp.fc2.bias"]
    state["backbone.blocks.1.attn.proj.weight"] = torch.zeros(64, 63)
    state["backbone.blocks.0.extra_thing"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "broken.ckpt")
    msg = str(info.value)
    assert "missing keys: backbone.blocks.1.mlp.fc2.bias" in msg
    assert "unexpected keys: backbone.blocks.0.extra_thing" in msg
    assert "mis-shaped keys: backbone.blocks.1.attn.proj.weight: file (64, 63) vs model (64, 64)" in msg


def test_infer_config_reads_vit_h_shapes() -> None:
    with torch.device("meta"):
        state = HMR(model_preset("vit_h")).state_dict()
    cfg = infer_config(state)
    assert (cfg.backbone.embed_dim, cfg.backbone.depth, cfg.backbone.num_heads) == (1280, 32, 16)
    assert (cfg.head.dim, cfg.head.depth, cfg.head.heads, cfg.head.dim_head) == (1024, 6, 8, 64)
