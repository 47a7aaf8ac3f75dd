"""TensorRT engines from our ONNX graphs: build once per (model, GPU, TensorRT, precision,
batch), cache, and run with pre-allocated device buffers on a private CUDA stream.

Versions: 8.5 and later (JetPack 5.1 ships 8.5, JetPack 6.0 8.6, JetPack 6.1+ and desktops 10.x).
The calls used here (named I/O tensors, `execute_async_v3`, memory pools) exist from 8.5 on; an
older TensorRT is refused with a message saying so. Before a build the graph's operators are
checked against the parser's supported-operator list of that version (`tensorrt_onnx_ops.json`),
so an unsupported op is named instead of surfacing as a parser error deep in the build.

Streams: inputs are usually made on the caller's current stream (the person mask, crops moved to
the GPU), so the private stream waits for it before copying them; outputs are handed back to the
caller's stream (it waits for the private one, and `record_stream` keeps the caching allocator from
reusing their memory while the caller still reads them). The device index (`cuda:1`) is kept for
the engine, its buffers and its stream.

An engine only runs on the GPU model and TensorRT version it was built with, so both are part of
the cache key; the model part is a hash of the ONNX graph and weights, so re-exporting the same
model reuses the engine while any change of weights or token schedule builds a new one. A
timing cache (one per GPU and TensorRT version) makes later builds of related graphs faster.

Device memory comes from torch (`torch.empty(..., device="cuda")`), which saves a dependency on
pycuda or cuda-python: torch with CUDA is needed on a GPU machine anyway.

INT8: `Int8Calibrator` feeds calibration crops to TensorRT's entropy calibrator (the implicit
quantisation path, deprecated but present in TensorRT 10). Mask-ToMe graphs are calibrated with
plain-ToMe masks (all zeros), since the calibrator cannot know the person masks of deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.assets import paths
from fasthmr_ros.config import PRECISIONS
from fasthmr_ros.npz import open_npz
from fasthmr_ros.runtime.interface import INPUT_CROPS, BackendError, Runner
from fasthmr_ros.runtime.onnx_export import onnx_hash, read_model_io

log = logging.getLogger(__name__)

TIMING_CACHE_NAME = "timing-{gpu}-trt{version}.cache"
MIN_VERSION = (8, 5)
BF16_VERSION = (9, 0)  # BuilderFlag.BF16 first appears in TensorRT 9
OPS_FILE = Path(__file__).with_name("tensorrt_onnx_ops.json")


def version_tuple(version: str) -> tuple[int, int]:
    """'8.6.1.6' -> (8, 6)."""
    major, minor = [*version.split("."), "0"][:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def check_version(version: str) -> None:
    """BackendError for a TensorRT older than MIN_VERSION, saying what to install instead."""
    if version_tuple(version) < MIN_VERSION:
        raise BackendError(
            f"TensorRT {version} is older than {'.'.join(map(str, MIN_VERSION))}, the oldest this package "
            "supports (it needs named I/O tensors and execute_async_v3); on Jetson use JetPack 5.1 or "
            "newer, elsewhere pip install tensorrt, or use backend torch"
        )


def import_tensorrt() -> Any:
    """The `tensorrt` module, or BackendError saying why it cannot be used here."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendError(
            f"TensorRT is not installed ({exc}); on a machine with an NVIDIA GPU: pip install tensorrt"
        ) from exc
    check_version(trt.__version__)
    if not torch.cuda.is_available():
        raise BackendError("TensorRT is installed but torch sees no CUDA GPU")
    return trt


def export_opset(version: str) -> int:
    """The ONNX opset to export for TensorRT `version` (8.5's parser has no LayerNormalization)."""
    from fasthmr_ros.runtime.onnx_export import LEGACY_TENSORRT_OPSET, ONNX_OPSET

    return LEGACY_TENSORRT_OPSET if version_tuple(version) < (8, 6) else ONNX_OPSET


def supported_ops(version: str) -> tuple[str, frozenset[str], dict[str, dict[str, list[str]]]]:
    """(listed version used, ONNX ops its parser supports, attribute values it does not handle)
    for the newest listed version not newer than `version`."""
    data = json.loads(OPS_FILE.read_text(encoding="utf-8"))
    listed = sorted(data["versions"], key=version_tuple)
    usable = [v for v in listed if version_tuple(v) <= version_tuple(version)] or listed[:1]
    chosen = usable[-1]
    unsupported_attrs = data["unsupported_attributes"].get(chosen, {})
    return chosen, frozenset(data["versions"][chosen]["supported"]), unsupported_attrs


def unsupported_nodes(onnx_path: str | Path, version: str) -> list[str]:
    """Nodes of the graph TensorRT `version`'s ONNX parser cannot take: 'op (why)' per kind."""
    import onnx

    listed, ops, attrs = supported_ops(version)
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    problems = set()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            problems.add(f"{node.op_type} (custom domain {node.domain})")
        elif node.op_type not in ops:
            problems.add(f"{node.op_type} (not in TensorRT {listed}'s supported operators)")
        for attr in node.attribute:
            bad = attrs.get(node.op_type, {}).get(attr.name, [])
            if attr.s and attr.s.decode() in bad:
                problems.add(f"{node.op_type} {attr.name}={attr.s.decode()} (ignored by TensorRT {listed})")
    return sorted(problems)


def tensorrt_status() -> tuple[str | None, str]:
    """(TensorRT version or None, a sentence saying why it can or cannot be used)."""
    try:
        trt = import_tensorrt()
    except BackendError as exc:
        return None, str(exc)
    return trt.__version__, f"TensorRT {trt.__version__} on {torch.cuda.get_device_name()}"


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialized engine depends on."""

    model_hash: str
    gpu_name: str
    tensorrt_version: str
    precision: str
    batch: int

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def filename(self, stem: str) -> str:
        return f"{stem}_{self.precision}_b{self.batch}_{self.digest()[:16]}.engine"


def engine_key(
    onnx_path: str | Path, precision: str, batch: int, gpu_name: str, trt_version: str
) -> EngineKey:
    if precision not in PRECISIONS:
        raise BackendError(f"TensorRT precision {precision!r} is not one of {PRECISIONS}")
    if batch < 1:
        raise BackendError(f"engine batch must be >= 1, got {batch}")
    return EngineKey(onnx_hash(onnx_path), gpu_name, trt_version, precision, batch)


def engine_path(key: EngineKey, onnx_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or paths.engines_dir()) / key.filename(Path(onnx_path).stem)


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)


def _progress_monitor(trt: Any) -> Any:
    """A TensorRT IProgressMonitor showing each build phase as a tqdm bar (builds take minutes).

    TensorRT calls it from several internal threads, so every change of the bars holds a lock; the
    caller keeps the monitor referenced until the builder and its config are gone, since TensorRT
    keeps only a raw pointer to it.
    """

    class TqdmMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.bars: dict[str, tqdm] = {}
            self.lock = threading.Lock()

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self.lock:
                # Nested phases (parent_phase set) stack below their parent's bar.
                depth = len(self.bars)
                self.bars[phase_name] = tqdm(
                    total=num_steps, desc=phase_name, position=depth, leave=depth == 0
                )

        def step_complete(self, phase_name: str, step: int) -> bool:
            with self.lock:
                bar = self.bars.get(phase_name)
                if bar is not None:
                    bar.n = step + 1
                    bar.refresh()
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            with self.lock:
                bar = self.bars.pop(phase_name, None)
                if bar is not None:
                    bar.close()

    return TqdmMonitor()


def load_calibration_crops(path: str | Path) -> np.ndarray:
    """(N, 3, 256, 256) float32 crops from an .npz with key `crops`."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"INT8 calibration file not found: {path}")
    with open_npz(path, BackendError) as data:
        if "crops" not in data:
            raise BackendError(f"{path}: expected key 'crops' (N, 3, 256, 256), found {sorted(data.files)}")
        crops = np.asarray(data["crops"], dtype=np.float32)
    if crops.ndim != 4 or crops.shape[1:] != (3, 256, 256) or len(crops) == 0:
        raise BackendError(f"{path}: 'crops' must be (N>0, 3, 256, 256), got {crops.shape}")
    return crops


def make_int8_calibrator(
    trt: Any, crops: np.ndarray, batch: int, input_shapes: dict[str, tuple[int, ...]], cache_file: Path
) -> Any:
    """An IInt8EntropyCalibrator2 that walks `crops` in batches; other inputs are zeros."""

    class Int8Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.position = 0
            self.buffers = {
                name: torch.zeros(shape, dtype=torch.float32, device="cuda")
                for name, shape in input_shapes.items()
            }
            self.bar = tqdm(total=len(crops), desc="INT8 calibration", unit="crop")

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: list[str]) -> list[int] | None:
            if self.position + batch > len(crops):
                self.bar.close()
                return None
            chunk = torch.from_numpy(crops[self.position : self.position + batch])
            self.buffers[INPUT_CROPS].copy_(chunk)
            self.position += batch
            self.bar.update(batch)
            return [int(self.buffers[name].data_ptr()) for name in names]

        def read_calibration_cache(self) -> bytes | None:
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache: Any) -> None:
            cache_file.write_bytes(bytes(cache))

    return Int8Calibrator()


def build_engine(
    onnx_path: str | Path,
    out_path: str | Path,
    precision: str = "fp16",
    batch: int = 1,
    workspace_gb: float = 4.0,
    timing_cache: str | Path | None = None,
    int8_calibration: str | Path | None = None,
) -> Path:
    """Parse the ONNX graph, build a serialized engine at `precision`, write it to `out_path`."""
    trt = import_tensorrt()
    io = read_model_io(onnx_path)
    if io.batch is not None and io.batch != batch:
        raise BackendError(
            f"{onnx_path} was exported with fixed batch {io.batch}; build with --batch {io.batch}"
        )
    crops = None
    if precision == "int8":
        if int8_calibration is None:
            raise BackendError("an INT8 engine needs calibration crops (--int8-calib CROPS.npz)")
        crops = load_calibration_crops(int8_calibration)
    version = version_tuple(trt.__version__)
    if precision == "bf16" and version < BF16_VERSION:
        raise BackendError(f"bf16 engines need TensorRT 9 or newer (this is {trt.__version__}); use fp16")
    problems = unsupported_nodes(onnx_path, trt.__version__)
    if problems:
        raise BackendError(f"TensorRT {trt.__version__} cannot build {onnx_path}: {'; '.join(problems)}")
    logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")
    builder = trt.Builder(logger)
    # Before 10, the ONNX parser needs an explicit-batch network; from 10 on that is the only mode.
    flags = 0 if version >= (10, 0) else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {onnx_path}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    input_shapes = {}
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = (batch, *tuple(tensor.shape)[1:])
        input_shapes[tensor.name] = shape
        if tensor.shape[0] == -1:
            profile.set_shape(tensor.name, (1, *shape[1:]), shape, shape)
    if io.batch is None:
        config.add_optimization_profile(profile)
    if crops is not None:
        config.set_flag(trt.BuilderFlag.INT8)
        if io.batch is None:
            config.set_calibration_profile(profile)
        calib_cache = Path(out_path).with_suffix(".calib")
        config.int8_calibrator = make_int8_calibrator(trt, crops, batch, input_shapes, calib_cache)

    cache_bytes = b""
    if timing_cache is not None and Path(timing_cache).is_file():
        cache_bytes = Path(timing_cache).read_bytes()
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    monitor = _progress_monitor(trt) if hasattr(trt, "IProgressMonitor") else None
    if monitor is not None:
        config.progress_monitor = monitor

    log.info(
        "building a %s TensorRT engine (batch %d) from %s; this takes minutes", precision, batch, onnx_path
    )
    serialized = builder.build_serialized_network(network, config)
    timing_bytes = bytes(config.get_timing_cache().serialize())
    del parser, network, config, builder  # before the monitor they point at
    del monitor
    if serialized is None:
        raise BackendError(
            f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)"
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".partial")
    tmp.write_bytes(bytes(serialized))
    os.replace(tmp, out_path)
    if timing_cache is not None:
        Path(timing_cache).write_bytes(timing_bytes)
    return out_path


def ensure_engine(
    onnx_path: str | Path,
    precision: str = "fp16",
    batch: int = 1,
    cache_dir: str | Path | None = None,
    workspace_gb: float = 4.0,
    int8_calibration: str | Path | None = None,
    device: str = "cuda",
) -> Path:
    """The cached engine for this graph on this GPU, building it first if there is none."""
    trt = import_tensorrt()
    dev = cuda_device(device)
    gpu = torch.cuda.get_device_name(dev)
    key = engine_key(onnx_path, precision, batch, gpu, trt.__version__)
    path = engine_path(key, onnx_path, cache_dir)
    if path.is_file():
        log.info("reusing TensorRT engine %s", path)
        return path
    timing = path.parent / TIMING_CACHE_NAME.format(gpu=_safe_name(gpu), version=trt.__version__)
    with torch.cuda.device(dev):  # TensorRT builds for the current CUDA device
        build_engine(onnx_path, path, precision, batch, workspace_gb, timing, int8_calibration)
    path.with_suffix(".json").write_text(json.dumps({**asdict(key), "onnx": str(onnx_path)}, indent=1))
    return path


_TORCH_DTYPES = {
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "BF16": torch.bfloat16,
    "INT32": torch.int32,
    "INT64": torch.int64,
    "BOOL": torch.bool,
}


def cuda_device(device: str) -> torch.device:
    """`cuda` -> the current CUDA device with its index; `cuda:1` stays `cuda:1`."""
    dev = torch.device(device)
    if dev.type != "cuda":
        raise BackendError(f"TensorRT runs on a CUDA device, not {device}")
    return torch.device("cuda", torch.cuda.current_device() if dev.index is None else dev.index)


class TensorRTRunner(Runner):
    """A serialized engine with its I/O buffers allocated once and a private CUDA stream."""

    name = "tensorrt"

    def __init__(
        self, engine_file: str | Path, onnx_path: str | Path, precision: str, batch: int, device: str = "cuda"
    ) -> None:
        trt = import_tensorrt()
        io = read_model_io(onnx_path)
        self._device = cuda_device(device)
        super().__init__(replace(io, batch=batch), precision, str(self._device))
        with torch.cuda.device(self._device):  # engine, context and stream live on that device
            self._init_engine(trt, engine_file, batch)

    def _init_engine(self, trt: Any, engine_file: str | Path, batch: int) -> None:
        self._logger = trt.Logger(trt.Logger.WARNING)
        trt.init_libnvinfer_plugins(self._logger, "")
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(Path(engine_file).read_bytes())
        if self.engine is None:
            raise BackendError(
                f"cannot load TensorRT engine {engine_file} (built for another GPU or version?)"
            )
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream(self._device)
        self.buffers: dict[str, torch.Tensor] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                shape = tuple(self.engine.get_tensor_shape(name))
                self.context.set_input_shape(name, (batch, *shape[1:]))
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = _TORCH_DTYPES[self.engine.get_tensor_dtype(name).name]
            shape = tuple(self.context.get_tensor_shape(name))
            self.buffers[name] = torch.empty(shape, dtype=dtype, device=self._device)
            self.context.set_tensor_address(name, self.buffers[name].data_ptr())

    def _run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        caller = torch.cuda.current_stream(self._device)
        self.stream.wait_stream(caller)  # inputs made on the caller's stream are complete first
        with torch.cuda.device(self._device), torch.cuda.stream(self.stream):
            for name in self.io.inputs:
                source = inputs[name]
                if source.is_cuda:
                    source.record_stream(self.stream)  # not reused until the copy has run
                self.buffers[name].copy_(source, non_blocking=True)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise BackendError("TensorRT execution failed")
            out = {name: self.buffers[name].float().clone() for name in self.io.outputs}
        caller.wait_stream(self.stream)  # the caller's later work sees finished outputs
        for tensor in out.values():
            tensor.record_stream(caller)  # made on our stream, freed after the caller's use
        return out


def tensorrt_runner(
    onnx_path: str | Path,
    precision: str = "fp16",
    batch: int = 1,
    cache_dir: str | Path | None = None,
    workspace_gb: float = 4.0,
    int8_calibration: str | Path | None = None,
    device: str = "cuda",
) -> TensorRTRunner:
    """Build-once-reuse: the cached engine for `onnx_path`, wrapped in a runner."""
    engine = ensure_engine(onnx_path, precision, batch, cache_dir, workspace_gb, int8_calibration, device)
    return TensorRTRunner(engine, onnx_path, precision, batch, device)
