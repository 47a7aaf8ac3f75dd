"""TensorRT engines and CUDA paths. The cache-key and error tests run everywhere; the rest need
TensorRT and/or a CUDA GPU and skip cleanly without them."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from fasthmr_ros.cli.main import main as cli_main
from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import BackendError
from fasthmr_ros.runtime.onnx_export import export_onnx
from fasthmr_ros.runtime.tensorrt import EngineKey, engine_key, engine_path, load_calibration_crops

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

KEY = EngineKey("a" * 64, "NVIDIA GeForce RTX 3090", "10.3.0", "fp16", 1)
OTHER_VALUES = {
    "model_hash": "b" * 64,
    "gpu_name": "NVIDIA Jetson AGX Orin",
    "tensorrt_version": "10.4.0",
    "precision": "fp32",
    "batch": 4,
}


def _tiny(merging: bool) -> HMR:
    torch.manual_seed(0)
    model = HMR(model_preset("tiny")).eval()
    if merging:
        model.set_token_merging(MergingConfig())
    return model


def test_engine_key_changes_with_each_component(tmp_path) -> None:
    names = {f.name for f in fields(EngineKey)}
    assert names == set(OTHER_VALUES)
    seen = {KEY.filename("m")}
    for name, value in OTHER_VALUES.items():
        changed = replace(KEY, **{name: value})
        assert changed.digest() != KEY.digest(), name
        seen.add(changed.filename("m"))
    assert len(seen) == 1 + len(OTHER_VALUES)
    assert engine_path(KEY, "x/model.onnx", tmp_path).parent == tmp_path


def test_engine_key_hashes_the_onnx_contents(tmp_path) -> None:
    a = export_onnx(_tiny(False), tmp_path / "a.onnx", batch=1).path
    b = export_onnx(_tiny(True), tmp_path / "b.onnx", batch=1).path
    key_a = engine_key(a, "fp16", 1, "gpu", "10.3.0")
    assert engine_key(a, "fp16", 1, "gpu", "10.3.0") == key_a
    assert engine_key(b, "fp16", 1, "gpu", "10.3.0").model_hash != key_a.model_hash
    with pytest.raises(BackendError, match="precision"):
        engine_key(a, "fp8", 1, "gpu", "10.3.0")
    with pytest.raises(BackendError, match="batch"):
        engine_key(a, "fp16", 0, "gpu", "10.3.0")


def test_calibration_file_is_checked(tmp_path) -> None:
    with pytest.raises(BackendError, match="not found"):
        load_calibration_crops(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 3, 256, 256), np.float32))
    with pytest.raises(BackendError, match="key 'crops'"):
        load_calibration_crops(tmp_path / "bad.npz")
    np.savez(tmp_path / "ok.npz", crops=np.zeros((2, 3, 256, 256), np.float32))
    assert load_calibration_crops(tmp_path / "ok.npz").shape == (2, 3, 256, 256)


def test_build_engine_cli_explains_what_is_missing(tmp_path, capsys) -> None:
    onnx_path = export_onnx(_tiny(False), tmp_path / "m.onnx", batch=1).path
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert cli_main(["build-engine", str(onnx_path), "--cache-dir", str(tmp_path)]) == 2
        assert "TensorRT is not installed" in capsys.readouterr().err
    assert cli_main(["build-engine", str(tmp_path / "missing.onnx")]) == 2
    assert cli_main(["build-engine", str(onnx_path), "--batch", "0"]) == 2


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize(("precision", "tol"), [("fp32", 1e-3), ("fp16", 5e-2)])
def test_tensorrt_engine_matches_pytorch_and_is_reused(tmp_path, precision: str, tol: float) -> None:
    pytest.importorskip("tensorrt")
    from fasthmr_ros.runtime.tensorrt import ensure_engine, tensorrt_runner

    model = _tiny(True)
    onnx_path = export_onnx(model, tmp_path / "m.onnx", batch=2).path
    runner = tensorrt_runner(onnx_path, precision, batch=2, cache_dir=tmp_path)
    crops = torch.randn(3, 3, 256, 256)
    mask = torch.rand(3, 192) < 0.3
    with torch.no_grad():
        ref = model(crops, person_mask=mask)
    got = runner(crops.cuda(), person_mask=mask.cuda())
    for key in ("pose_6d", "betas", "pred_cam"):
        assert torch.allclose(got[key].cpu(), ref[key], atol=tol), key
    engine = ensure_engine(onnx_path, precision, 2, tmp_path)
    mtime = engine.stat().st_mtime_ns
    assert ensure_engine(onnx_path, precision, 2, tmp_path).stat().st_mtime_ns == mtime


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_cuda_autocast_and_cuda_graphs(precision: str) -> None:
    from fasthmr_ros.runtime.torch_backend import TorchRunner

    model = _tiny(True)
    crops = torch.randn(3, 3, 256, 256)
    mask = torch.rand(3, 192) < 0.3
    with torch.no_grad():
        ref = model(crops, person_mask=mask)
    eager = TorchRunner(model, "cuda", precision)(crops, person_mask=mask)
    graphed = TorchRunner(model, "cuda", precision, cuda_graphs=True, batch=2)(crops, person_mask=mask)
    for key in ("pose_6d", "betas", "pred_cam"):
        assert torch.allclose(eager[key].cpu(), ref[key].cpu(), atol=5e-2), key
        assert torch.allclose(graphed[key], eager[key], atol=1e-2), key
