"""The exported graph against TensorRT's ONNX parsers (8.5, 8.6, 10.x) and the one-hot token merge.

TensorRT itself needs an NVIDIA GPU, so these check what can be checked without one: the operator
set of real exports against each parser's supported-operator list (data in the package, source
named in it), the version gate, and the merge formulation under real onnxruntime.
"""

from __future__ import annotations

import threading

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

from fasthmr_ros.config import MergingConfig, model_preset
from fasthmr_ros.merging.tome import TokenState, match, merge
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.runtime import tensorrt
from fasthmr_ros.runtime.interface import BackendError
from fasthmr_ros.runtime.onnx_export import apply_token_merging, export_onnx


@pytest.fixture(scope="module")
def tome_exports(tmp_path_factory) -> dict[int, str]:
    """A tiny Mask-ToMe model exported at opset 17 (TensorRT 8.6+) and 16 (TensorRT 8.5)."""
    torch.manual_seed(0)
    model = HMR(model_preset("tiny")).eval()
    apply_token_merging(model, MergingConfig())
    folder = tmp_path_factory.mktemp("trt_ops")
    return {
        opset: str(export_onnx(model, folder / f"tome{opset}.onnx", batch=1, opset=opset).path)
        for opset in (16, 17)
    }


@pytest.mark.parametrize("version", ["8.5.3", "8.6.1", "10.0.1", "10.3.0"])
def test_exported_graph_uses_only_ops_every_supported_parser_takes(tome_exports, version) -> None:
    opset = tensorrt.export_opset(version)
    assert opset == (16 if version.startswith("8.5") else 17)
    assert tensorrt.unsupported_nodes(tome_exports[opset], version) == []
    ops = {n.op_type for n in onnx.load(tome_exports[opset]).graph.node}
    assert "ScatterElements" not in ops and "MatMul" in ops and "TopK" in ops


def test_opset_17_layernorm_is_refused_for_tensorrt_85(tome_exports) -> None:
    problems = tensorrt.unsupported_nodes(tome_exports[17], "8.5.3")
    assert problems == ["LayerNormalization (not in TensorRT 8.5's supported operators)"]


def test_scatter_with_reduction_is_named_for_parsers_that_ignore_it(tmp_path) -> None:
    """The formulation the merge no longer uses: 8.6's parser drops `reduction`, 10.x takes it."""
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=1, reduction="add")
    graph = helper.make_graph(
        [node],
        "scatter",
        [helper.make_tensor_value_info(n, t, [1, 4]) for n, t in
         (("x", TensorProto.FLOAT), ("i", TensorProto.INT64), ("u", TensorProto.FLOAT))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )  # fmt: skip
    path = tmp_path / "scatter.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert tensorrt.unsupported_nodes(path, "8.6.1") == [
        "ScatterElements reduction=add (ignored by TensorRT 8.6)"
    ]
    assert tensorrt.unsupported_nodes(path, "10.0.1") == []


def test_older_tensorrt_is_refused_with_what_to_do() -> None:
    with pytest.raises(BackendError, match=r"TensorRT 8\.4\.3\.1 is older than 8\.5.*JetPack 5\.1"):
        tensorrt.check_version("8.4.3.1")
    tensorrt.check_version("8.5.2.2")
    tensorrt.check_version("10.3.0")
    assert tensorrt.supported_ops("8.6.1.6")[0] == "8.6"
    assert tensorrt.supported_ops("10.7.0")[0] == "10.1"  # newest list not newer than the version


def test_device_index_is_kept() -> None:
    assert tensorrt.cuda_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(BackendError, match="CUDA device"):
        tensorrt.cuda_device("cpu")


def _scatter_add_reference(state: TokenState, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Size-weighted merge written with scatter_add, independently of merging/tome.py."""
    xa, xb = state.x[:, ::2], state.x[:, 1::2]
    sa, sb = state.size[:, ::2], state.size[:, 1::2]
    w = sa.gather(1, src)
    moved = xa.gather(1, src[..., None].expand(-1, -1, xa.shape[-1])) * w[..., None]
    total = sb.scatter_add(1, dst, w)
    summed = (xb * sb[..., None]).scatter_add(1, dst[..., None].expand_as(moved), moved)
    return summed / total[..., None]


class _MergeOnce(torch.nn.Module):
    def forward(
        self, x: torch.Tensor, size: torch.Tensor, protected: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        state = TokenState(x, size, protected > 0.5, torch.arange(x.shape[1]).expand(x.shape[:2]),
                           torch.zeros(x.shape[0], dtype=torch.long))  # fmt: skip
        out = merge(state, match(x, 7, state.protected))
        return out.x, out.size


def test_one_hot_merge_equals_scatter_add_in_torch_and_onnxruntime(tmp_path) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 24, 8, generator=gen)
    size = torch.randint(1, 4, (2, 24), generator=gen).float()
    protected = (torch.rand(2, 24, generator=gen) < 0.3).float()
    state = TokenState(
        x, size, protected > 0.5, torch.arange(24).expand(2, 24), torch.zeros(2, dtype=torch.long)
    )
    m = match(x, 7, state.protected)
    merged = merge(state, m)
    reference = _scatter_add_reference(state, m.src, m.dst)
    assert torch.allclose(merged.x[:, -12:], reference, atol=1e-6)
    assert merged.size.sum() == size.sum()  # no patch lost or counted twice

    path = tmp_path / "merge.onnx"
    torch.onnx.export(_MergeOnce(), (x, size, protected), str(path), dynamo=False, opset_version=17,
                      input_names=["x", "size", "protected"], output_names=["y", "y_size"])  # fmt: skip
    assert "ScatterElements" not in {n.op_type for n in onnx.load(str(path)).graph.node}
    y, y_size = ort.InferenceSession(str(path)).run(None, {"x": x.numpy(), "size": size.numpy(),
                                                           "protected": protected.numpy()})  # fmt: skip
    np.testing.assert_allclose(y[:, -12:], reference.numpy(), atol=1e-5)
    np.testing.assert_allclose(y_size, merged.size.numpy())


def test_progress_monitor_takes_calls_from_many_threads() -> None:
    """TensorRT calls the monitor from its builder threads; no call may break the bar bookkeeping.

    TensorRT is not installable without an NVIDIA GPU, so its base class is stood in by `object`.
    """

    class NoTensorRT:
        class IProgressMonitor:
            def __init__(self) -> None:
                pass

    monitor = tensorrt._progress_monitor(NoTensorRT)

    def phase(name: str) -> None:
        monitor.phase_start(name, None, 50)
        for step in range(50):
            assert monitor.step_complete(name, step)
        monitor.phase_finish(name)

    threads = [threading.Thread(target=phase, args=(f"phase {i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert monitor.bars == {}
