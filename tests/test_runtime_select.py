"""Backend selection rules, the real probe of this machine, and the torch runner on the CPU."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from fasthmr_ros.bench.backends import measure_backends
from fasthmr_ros.config import MergingConfig, RuntimeConfig, model_preset
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime.interface import BackendError
from fasthmr_ros.runtime.select import Capabilities, choose_backend, create_runner, probe_capabilities
from fasthmr_ros.runtime.torch_backend import TorchRunner

NOTHING = Capabilities(
    gpu_name=None, tensorrt_version=None, tensorrt_reason="TensorRT is not installed", ort_cuda=False
)
GPU_ONLY = Capabilities("NVIDIA Jetson Orin", None, "TensorRT is not installed", ort_cuda=False)
FULL = Capabilities("NVIDIA Jetson Orin", "10.3.0", "TensorRT 10.3.0 on NVIDIA Jetson Orin", ort_cuda=True)


def test_auto_prefers_tensorrt_then_torch_cuda_then_cpu() -> None:
    cfg = RuntimeConfig()
    full = choose_backend(cfg, FULL)
    assert (full.backend, full.device, full.precision) == ("tensorrt", "cuda", "fp16")
    assert "TensorRT 10.3.0" in full.reason
    gpu = choose_backend(cfg, GPU_ONLY)
    assert (gpu.backend, gpu.device, gpu.precision) == ("torch", "cuda", "fp16")
    assert "TensorRT is not installed" in gpu.reason and "Jetson Orin" in gpu.reason
    cpu = choose_backend(cfg, NOTHING)
    assert (cpu.backend, cpu.device, cpu.precision) == ("cpu", "cpu", "fp32")
    assert "no CUDA GPU" in cpu.reason and "fp16 asked for" in cpu.reason


def test_auto_with_device_cpu_stays_on_cpu_even_with_a_gpu() -> None:
    choice = choose_backend(RuntimeConfig(device="cpu", precision="fp32"), FULL)
    assert choice.backend == "cpu" and "device is cpu" in choice.reason


def test_explicit_backends_never_substitute() -> None:
    with pytest.raises(BackendError, match="TensorRT is not installed"):
        choose_backend(RuntimeConfig(backend="tensorrt"), GPU_ONLY)
    with pytest.raises(BackendError, match="no CUDA GPU"):
        choose_backend(RuntimeConfig(backend="torch"), NOTHING)
    assert choose_backend(RuntimeConfig(backend="torch", precision="bf16"), FULL).precision == "bf16"
    ort_gpu = choose_backend(RuntimeConfig(backend="onnxruntime"), FULL)
    assert (ort_gpu.device, ort_gpu.precision) == (
        "cuda",
        "fp32",
    ) and "onnxruntime runs fp32" in ort_gpu.reason
    assert choose_backend(RuntimeConfig(backend="onnxruntime"), NOTHING).device == "cpu"
    cpu_bf16 = choose_backend(RuntimeConfig(backend="torch", device="cpu", precision="bf16"), NOTHING)
    assert (cpu_bf16.device, cpu_bf16.precision) == ("cpu", "bf16")
    graphs = choose_backend(RuntimeConfig(backend="cpu", cuda_graphs=True), FULL)
    assert "cuda_graphs off" in graphs.reason


def test_unknown_names_are_errors() -> None:
    with pytest.raises(BackendError, match="backend 'tensorflow'"):
        choose_backend(RuntimeConfig(backend="tensorflow"), FULL)
    with pytest.raises(BackendError, match="precision 'int4'"):
        choose_backend(RuntimeConfig(precision="int4"), FULL)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback of a machine without a GPU")
def test_probe_here_falls_back_to_cpu_with_a_reason() -> None:
    caps = probe_capabilities()
    assert caps.gpu_name is None and caps.tensorrt_version is None
    choice = choose_backend(RuntimeConfig(), caps)
    assert choice.backend == "cpu"
    assert "TensorRT" in choice.reason and "no CUDA GPU" in choice.reason


def _tiny() -> HMR:
    torch.manual_seed(0)
    return HMR(model_preset("tiny")).eval()


def test_created_runners_agree_with_the_model(tmp_path) -> None:
    model = _tiny()
    model.set_token_merging(MergingConfig())
    crops = torch.randn(2, 3, 256, 256)
    mask = torch.rand(2, 192) < 0.3
    with torch.no_grad():
        ref = model(crops, person_mask=mask)
    base = RuntimeConfig(device="cpu", precision="fp32", engine_cache_dir=str(tmp_path))
    for backend in ("cpu", "onnxruntime"):
        runner, choice = create_runner(replace(base, backend=backend), model, NOTHING)
        assert choice.backend == backend
        got = runner(crops, person_mask=mask)
        assert isinstance(got["pose_6d"], torch.Tensor)
        for key in ref:
            assert torch.allclose(got[key].cpu(), ref[key], atol=1e-3), (backend, key)


def test_torch_runner_bf16_autocast_on_cpu_is_close_not_equal() -> None:
    model = _tiny()
    crops = np.random.default_rng(0).standard_normal((1, 3, 256, 256)).astype(np.float32)
    fp32 = TorchRunner(model, "cpu", "fp32")(crops)
    bf16 = TorchRunner(model, "cpu", "bf16")(crops)
    assert bf16["pose_6d"].dtype == np.float32
    diff = np.abs(bf16["pose_6d"] - fp32["pose_6d"]).max()
    assert 0 < diff < 0.1


def test_torch_runner_refuses_what_the_cpu_cannot_do() -> None:
    model = _tiny()
    with pytest.raises(BackendError, match="fp16 on the CPU"):
        TorchRunner(model, "cpu", "fp16")
    with pytest.raises(BackendError, match="CUDA graphs need a CUDA device"):
        TorchRunner(model, "cpu", "fp32", cuda_graphs=True)


def test_measure_backends_reports_each_variant(tmp_path) -> None:
    model = _tiny()
    variants = [
        RuntimeConfig(backend="cpu", device="cpu", precision="fp32"),
        RuntimeConfig(backend="onnxruntime", device="cpu", engine_cache_dir=str(tmp_path)),
        RuntimeConfig(backend="tensorrt"),
    ]
    report = measure_backends(model, variants, batch=1, repeats=2, warmup=1, caps=NOTHING)
    by_name = {r["variant"]: r for r in report["results"]}
    assert "TensorRT is not installed" in by_name["tensorrt/fp16"]["skipped"]
    for name in ("cpu/fp32", "onnxruntime/fp32"):
        assert len(by_name[name]["samples_ms"]) == 2 and by_name[name]["median_ms"] > 0
        assert by_name[name]["max_abs_diff_vs_first"] < 1e-3
    assert report["batch"] == 1 and report["model"] == "tiny"
