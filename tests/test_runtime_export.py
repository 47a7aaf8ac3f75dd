"""ONNX export under real onnxruntime: every output within 1e-3 of PyTorch, for unmerged,
Mask-ToMe and ECLM-merged models, fixed and dynamic batch, and the runner's batching."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from fasthmr_ros.cli.main import main as cli_main
from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.eclm.merge import apply_merge_plan
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.checkpoint import load_model, save_checkpoint
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.onnx_export import (
    ONNX_OPSET,
    ExportError,
    apply_token_merging,
    cached_export,
    export_onnx,
    read_model_io,
)
from fasthmr_ros.runtime.onnxruntime_runner import OnnxRuntimeRunner

TOL = 1e-3


def _model(preset: str = "tiny", depth: int | None = None, seed: int = 0, kind: str = "hmr2") -> HMR:
    cfg = model_preset(preset)
    if depth is not None:
        cfg.backbone.depth = depth
    cfg.head.kind = kind
    torch.manual_seed(seed)
    model = HMR(cfg).eval()
    with torch.no_grad():  # non-zero positions and means, so every parameter matters
        model.backbone.pos_embed.normal_(0, 0.5)
        model.smpl_head.init_body_pose.normal_(0, 0.5)
    return model


def _person_mask(batch: int, seed: int = 1) -> torch.Tensor:
    """A random blob of person patches per crop (about 40 %), on the 16 x 12 grid."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 192, generator=gen) < 0.4


def _compare(
    model: HMR,
    runner: OnnxRuntimeRunner,
    batch: int,
    mask: torch.Tensor | None = None,
    bbox_info: torch.Tensor | None = None,
) -> dict[str, float]:
    crops = torch.randn(batch, 3, 256, 256, generator=torch.Generator().manual_seed(batch))
    kwargs = {}
    if mask is not None:
        kwargs["person_mask"] = mask
    if bbox_info is not None:
        kwargs["bbox_info"] = bbox_info
    with torch.no_grad():
        ref = model(crops, **kwargs)
    got = runner(
        crops.numpy(),
        bbox_info=None if bbox_info is None else bbox_info.numpy(),
        person_mask=None if mask is None else mask.numpy(),
    )
    assert set(got) == set(ref)
    diffs = {}
    for key, value in ref.items():
        assert got[key].shape == tuple(value.shape), key
        diffs[key] = float(np.abs(got[key] - value.numpy()).max())
    assert max(diffs.values()) < TOL, diffs
    return diffs


def test_unmerged_tiny_fixed_batch_matches_pytorch(tmp_path) -> None:
    model = _model()
    info = export_onnx(model, tmp_path / "tiny.onnx", batch=2)
    assert info.io.inputs == ("crops",) and info.io.batch == 2
    proto = onnx.load(str(info.path))
    assert {o.domain: o.version for o in proto.opset_import}[""] == ONNX_OPSET
    runner = OnnxRuntimeRunner(info.path)
    _compare(model, runner, 2)
    # 3 crops through a batch-2 graph: split into 2 + (1 padded to 2), padding dropped.
    _compare(model, runner, 3)


def test_depth_reduced_vit_s_matches_pytorch(tmp_path) -> None:
    model = _model("vit_s", depth=2)
    runner = OnnxRuntimeRunner(export_onnx(model, tmp_path / "vit_s.onnx", batch=1).path)
    _compare(model, runner, 1)


def test_dynamic_batch_runs_any_batch(tmp_path) -> None:
    model = _model()
    info = export_onnx(model, tmp_path / "dyn.onnx", batch=None)
    assert read_model_io(info.path).batch is None
    runner = OnnxRuntimeRunner(info.path)
    for batch in (1, 4):
        _compare(model, runner, batch)


def test_mask_tome_with_mask_input_matches_pytorch(tmp_path) -> None:
    model = _model(seed=3)
    assert apply_token_merging(model, MergingConfig()) == (40, 40, 22)
    info = export_onnx(model, tmp_path / "tome.onnx", batch=None)
    assert info.io.inputs == ("crops", "person_mask")
    runner = OnnxRuntimeRunner(info.path)
    diffs_a = _compare(model, runner, 2, _person_mask(2))
    out = runner(np.zeros((1, 3, 256, 256), np.float32), person_mask=_person_mask(1).numpy())
    assert out["image_tokens"].shape[1] == 90 and out["token_sizes"].sum() == pytest.approx(192)
    # The mask really is an input: another mask changes the result, and still matches PyTorch.
    crops = np.random.default_rng(0).standard_normal((1, 3, 256, 256)).astype(np.float32)
    a = runner(crops, person_mask=_person_mask(1, seed=5).numpy())["pose_6d"]
    b = runner(crops, person_mask=_person_mask(1, seed=6).numpy())["pose_6d"]
    assert np.abs(a - b).max() > 1e-5
    assert max(diffs_a.values()) < TOL


def test_plain_tome_without_mask_input(tmp_path) -> None:
    model = _model(seed=4)
    apply_token_merging(model, MergingConfig(token_schedule=[30, 30]))
    info = export_onnx(model, tmp_path / "plain.onnx", batch=1, mask_input=False)
    assert info.io.inputs == ("crops",)
    runner = OnnxRuntimeRunner(info.path)
    _compare(model, runner, 1)  # PyTorch without a mask = plain ToMe too
    assert runner(np.zeros((1, 3, 256, 256), np.float32))["image_tokens"].shape[1] == 132


def test_eclm_merged_checkpoint_with_tome_matches_pytorch(tmp_path) -> None:
    merged = apply_merge_plan(_model(depth=4, seed=5), [[1, 2]])
    ckpt = save_checkpoint(merged, tmp_path / "merged.pt")
    model = load_model(ckpt)
    assert len(model.backbone.blocks) == 3 and model.config.merge_plan
    apply_token_merging(model, MergingConfig())
    runner = OnnxRuntimeRunner(export_onnx(model, tmp_path / "merged.onnx", batch=2).path)
    _compare(model, runner, 2, _person_mask(2))


def test_camerahmr_head_takes_bbox_info(tmp_path) -> None:
    model = _model(kind="camerahmr")
    info = export_onnx(model, tmp_path / "cam.onnx", batch=1)
    assert info.io.inputs == ("crops", "bbox_info") and "keypoints_2d" in info.io.outputs
    runner = OnnxRuntimeRunner(info.path)
    _compare(model, runner, 1, bbox_info=torch.tensor([[0.1, -0.2, 0.5]]))
    with pytest.raises(InputError, match="bbox_info"):
        runner(np.zeros((1, 3, 256, 256), np.float32))


def test_runner_rejects_bad_inputs(tmp_path) -> None:
    model = _model()
    apply_token_merging(model, MergingConfig())
    runner = OnnxRuntimeRunner(export_onnx(model, tmp_path / "m.onnx", batch=1).path)
    with pytest.raises(InputError, match=r"\(B, 3, 256, 256\)"):
        runner(np.zeros((1, 3, 128, 128), np.float32))
    with pytest.raises(InputError, match="person_mask"):
        runner(np.zeros((1, 3, 256, 256), np.float32), person_mask=np.zeros((1, 10), bool))
    with pytest.raises(InputError, match="no crops"):
        runner(np.zeros((0, 3, 256, 256), np.float32))


def test_foreign_and_missing_onnx_files_are_named(tmp_path) -> None:
    with pytest.raises(ExportError, match="not found"):
        read_model_io(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ExportError, match="not a readable ONNX"):
        read_model_io(bad)
    plain = tmp_path / "plain.onnx"
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    vi = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    vo = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([node], "g", [vi], [vo])), str(plain))
    with pytest.raises(ExportError, match="not written by `fasthmr export`"):
        read_model_io(plain)


def test_cached_export_reuses_and_keys_on_schedule(tmp_path) -> None:
    model = _model()
    first = cached_export(model, tmp_path, batch=1)
    mtime = first.stat().st_mtime_ns
    assert cached_export(model, tmp_path, batch=1) == first and first.stat().st_mtime_ns == mtime
    apply_token_merging(model, MergingConfig())
    assert cached_export(model, tmp_path, batch=1) != first


def test_export_cli_default_model_and_errors(tmp_path, capsys) -> None:
    out = tmp_path / "cli.onnx"
    assert cli_main(["export", "--onnx", str(out), "--dynamic-batch", "--token-schedule", "20,20"]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime vs PyTorch: max |diff|" in text and "EMBEDDED" in text
    io = read_model_io(out)
    assert io.batch is None and io.inputs == ("crops", "person_mask")
    assert cli_main(["export", "--onnx", str(out), "--batch", "0"]) == 2
    assert cli_main(["export", "--onnx", str(out), "--token-schedule", "150"]) == 2
    assert cli_main(["export", "--onnx", str(out), "--checkpoint", str(tmp_path / "missing.ckpt")]) == 2
    assert "not found" in capsys.readouterr().err
