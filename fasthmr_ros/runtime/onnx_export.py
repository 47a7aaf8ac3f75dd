"""Export HMR (encoder, Mask-ToMe when active, SMPL head) to one ONNX graph.

Opset 17 by default: the first with LayerNormalization as a single op (TensorRT 8.6+ recognises it
and keeps its statistics in fp32 under an FP16 build). TensorRT 8.5's parser lacks that op, so
engines for it are built from an opset-16 export, where LayerNorm is spelled out in elementwise ops
(`LEGACY_TENSORRT_OPSET`). Token merging uses only Gather/TopK/Equal/MatMul-style ops (the merge is
a product with a one-hot matrix, `merging/tome.py`), which every TensorRT parser from 8.5 on and
onnxruntime take; `tests/test_tensorrt_ops.py` checks the exported op set against each version's
supported-operator list.

Graph interface (also written into the file's metadata so runners need no side files):
- `crops` (B, 3, 256, 256) float32, normalised like `HMR.forward`'s input;
- `person_mask` (B, N) float32, 1 = person patch, only when the model merges tokens. Float rather
  than bool because every backend (TensorRT included) takes float I/O without special cases; the
  graph thresholds it at 0.5. Token counts are fixed by the schedule, so all shapes are static
  except, with `--dynamic-batch`, the batch;
- `bbox_info` (B, 3) float32, only for CameraHMR heads;
- outputs: the keys of `HMR.forward`, in its order.

The exporter is torch's TorchScript-based one (`dynamo=False`): the dynamo exporter needs the
`onnxscript` package, which is not a dependency of this project.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn
from tqdm import tqdm

from fasthmr_ros.config import MergingConfig, to_dict
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.models.hmr import CROP_SIZE, HMR
from fasthmr_ros.runtime.interface import INPUT_BBOX_INFO, INPUT_CROPS, INPUT_PERSON_MASK, ModelIO

log = logging.getLogger(__name__)

ONNX_OPSET = 17
LEGACY_TENSORRT_OPSET = 16
META_PREFIX = "fasthmr."
# Protobuf cannot serialise one message over 2 GiB: bigger models keep weights in `<name>.data`.
EXTERNAL_DATA_BYTES = 1_800_000_000
DATA_SUFFIX = ".data"


class ExportError(FastHMRError):
    """The model cannot be exported as asked, or an ONNX file is not one of ours."""


@dataclass(frozen=True)
class ExportInfo:
    path: Path
    io: ModelIO
    token_schedule: tuple[int, ...]
    seconds: float


def token_schedule_of(model: HMR) -> tuple[int, ...]:
    """The Mask-ToMe schedule the model runs with; () when it does not merge tokens."""
    schedule = model.backbone.token_schedule
    return tuple(int(r) for r in schedule.merges) if schedule.active else ()


def apply_token_merging(model: HMR, merging: MergingConfig | None) -> tuple[int, ...]:
    """Switch Mask-ToMe on with `merging` (off for None or an empty schedule); returns the
    schedule now active. A schedule the backbone cannot run raises ScheduleError."""
    model.set_token_merging(merging)
    return token_schedule_of(model)


def model_io(model: HMR, batch: int | None, mask_input: bool = True) -> ModelIO:
    """The graph interface of `model` as it is configured now (see the module docstring)."""
    rows, cols = model.backbone.grid_size
    inputs = [INPUT_CROPS]
    if mask_input and token_schedule_of(model):
        inputs.append(INPUT_PERSON_MASK)
    if model.needs_bbox_info:
        inputs.append(INPUT_BBOX_INFO)
    with torch.no_grad():
        probe = _ExportGraph(model, tuple(inputs), ())
        outputs = tuple(probe.named_outputs(*_example_inputs(model, tuple(inputs), 1, rows * cols)))
    return ModelIO(tuple(inputs), outputs, rows * cols, batch)


class _ExportGraph(nn.Module):
    """HMR with positional inputs and a tuple of outputs, the form ONNX export traces."""

    def __init__(self, model: HMR, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.input_names = inputs
        self.output_names = outputs

    def named_outputs(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        named = dict(zip(self.input_names, inputs, strict=True))
        kwargs = {}
        if INPUT_PERSON_MASK in named:
            kwargs["person_mask"] = named[INPUT_PERSON_MASK] > 0.5
        if INPUT_BBOX_INFO in named:
            kwargs["bbox_info"] = named[INPUT_BBOX_INFO]
        return self.model(named[INPUT_CROPS], **kwargs)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.named_outputs(*inputs)
        return tuple(out[k] for k in self.output_names)


def _example_inputs(
    model: HMR, inputs: tuple[str, ...], batch: int, patches: int
) -> tuple[torch.Tensor, ...]:
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(0)
    shapes = {
        INPUT_CROPS: (batch, 3, CROP_SIZE, CROP_SIZE),
        INPUT_PERSON_MASK: (batch, patches),
        INPUT_BBOX_INFO: (batch, 3),
    }
    tensors = []
    for name in inputs:
        t = torch.rand(shapes[name], generator=gen)
        tensors.append((t > 0.5).float() if name == INPUT_PERSON_MASK else t)
    return tuple(t.to(device) for t in tensors)


def export_onnx(
    model: HMR,
    path: str | Path,
    batch: int | None = 1,
    source: str = "",
    mask_input: bool = True,
    opset: int = ONNX_OPSET,
) -> ExportInfo:
    """Write `model` (as configured: merged layers, token schedule) to `path`.

    batch: fixed batch size, or None for a dynamic batch dimension. mask_input False exports a
    merging model without the mask input (plain ToMe: nothing protected).
    """
    if batch is not None and batch < 1:
        raise ExportError(f"batch must be >= 1, got {batch}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    io = model_io(model, batch, mask_input)
    graph = _ExportGraph(model, io.inputs, io.outputs).eval()
    example = _example_inputs(model, io.inputs, batch or 2, io.num_patches)
    dynamic_axes = None
    if batch is None:
        dynamic_axes = {name: {0: "batch"} for name in (*io.inputs, *io.outputs)}
    start = time.perf_counter()
    steps = tqdm(total=2, desc=f"export {path.name}", unit="step", leave=False)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # Trace-time constants (token counts, schedule) are intended: shapes are fixed per schedule.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
            torch.onnx.export(
                graph,
                example,
                str(raw),
                dynamo=False,
                opset_version=opset,
                input_names=list(io.inputs),
                output_names=list(io.outputs),
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
        steps.update()
        proto = onnx.load(str(raw))
        _write_metadata(proto, io, token_schedule_of(model), model, source)
        _save(proto, path)
        steps.update()
    steps.close()
    seconds = time.perf_counter() - start
    log.info("exported %s in %.1f s: inputs %s, %d outputs", path, seconds, io.inputs, len(io.outputs))
    return ExportInfo(path, io, token_schedule_of(model), seconds)


def _write_metadata(
    proto: onnx.ModelProto, io: ModelIO, schedule: tuple[int, ...], model: HMR, source: str
) -> None:
    values = {
        "inputs": json.dumps(list(io.inputs)),
        "outputs": json.dumps(list(io.outputs)),
        "num_patches": str(io.num_patches),
        "batch": "dynamic" if io.batch is None else str(io.batch),
        "token_schedule": json.dumps(list(schedule)),
        "model_config": json.dumps(to_dict(model.config)),
        "source": source,
    }
    del proto.metadata_props[:]
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, value


def _save(proto: onnx.ModelProto, path: Path) -> None:
    data_file = path.with_name(path.name + DATA_SUFFIX)
    data_file.unlink(missing_ok=True)
    weight_bytes = sum(len(t.raw_data) for t in proto.graph.initializer)
    if weight_bytes > EXTERNAL_DATA_BYTES:
        onnx.save_model(
            proto,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_file.name,
            size_threshold=1024,
        )
    else:
        onnx.save_model(proto, str(path))


def read_model_io(path: str | Path) -> ModelIO:
    """The interface recorded in an ONNX file this module wrote (weights are not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"ONNX file not found: {path} (create one with `fasthmr export --onnx {path}`)")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ExportError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    meta = {p.key[len(META_PREFIX) :]: p.value for p in proto.metadata_props if p.key.startswith(META_PREFIX)}
    if "inputs" not in meta:
        raise ExportError(f"{path} was not written by `fasthmr export` (no {META_PREFIX}* metadata)")
    batch = None if meta["batch"] == "dynamic" else int(meta["batch"])
    return ModelIO(
        tuple(json.loads(meta["inputs"])), tuple(json.loads(meta["outputs"])), int(meta["num_patches"]), batch
    )


def onnx_files(path: str | Path) -> list[Path]:
    """The graph file and, for large models, its weights file."""
    path = Path(path)
    data = path.with_name(path.name + DATA_SUFFIX)
    return [path, data] if data.is_file() else [path]


def onnx_hash(path: str | Path) -> str:
    """sha256 over the graph and its weights: what an engine built from it depends on."""
    digest = hashlib.sha256()
    for file in onnx_files(path):
        with open(file, "rb") as f:
            while chunk := f.read(1 << 24):
                digest.update(chunk)
    return digest.hexdigest()


def model_hash(
    model: HMR, batch: int | None, schedule: tuple[int, ...], mask_input: bool = True, opset: int = ONNX_OPSET
) -> str:
    """sha256 over architecture, weights and export settings: names the ONNX file of a model."""
    digest = hashlib.sha256()
    digest.update(json.dumps([to_dict(model.config), batch, list(schedule), mask_input, opset]).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_export(
    model: HMR,
    cache_dir: str | Path,
    batch: int | None,
    source: str = "",
    mask_input: bool = True,
    opset: int = ONNX_OPSET,
) -> Path:
    """Export `model` into the cache once; later calls with the same model reuse the file."""
    schedule = token_schedule_of(model)
    key = model_hash(model, batch, schedule, mask_input, opset)[:16]
    tag = "dyn" if batch is None else f"b{batch}"
    path = Path(cache_dir) / f"{model.config.preset or 'model'}_{tag}_{key}.onnx"
    if path.is_file():
        log.info("reusing exported %s", path)
        return path
    return export_onnx(model, path, batch=batch, source=source, mask_input=mask_input, opset=opset).path
