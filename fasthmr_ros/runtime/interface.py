"""The one interface every inference backend offers: crops (+ person mask, + bbox_info) -> the
output dict of `HMR.forward`.

Backends differ in what they can take (a TensorRT engine has one fixed batch, an ONNX graph only
has a mask input when it merges tokens), so the shared part lives here: input checks, mask and
dtype conversion, splitting into fixed-size batches with padding, and returning numpy for numpy
callers and torch for torch callers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import overload

import numpy as np
import torch

from fasthmr_ros.errors import FastHMRError, InputError

INPUT_CROPS = "crops"
INPUT_PERSON_MASK = "person_mask"
INPUT_BBOX_INFO = "bbox_info"
CROP_SHAPE = (3, 256, 256)

Array = np.ndarray | torch.Tensor


class BackendError(FastHMRError):
    """A backend cannot run as configured on this machine (missing library, GPU or file)."""


@dataclass(frozen=True)
class ModelIO:
    """What a backend's graph takes and gives.

    inputs: a subset of (crops, person_mask, bbox_info) in graph order; outputs: HMR.forward's
    keys in graph order; num_patches: length of a person mask row (192 for ViTPose);
    batch: the fixed batch of the graph, or None when any batch runs.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    num_patches: int
    batch: int | None


class Runner(ABC):
    """Base of every backend. Subclasses implement `_run` on one batch of torch tensors."""

    name: str = "runner"

    def __init__(self, io: ModelIO, precision: str, device: str) -> None:
        self.io = io
        self.precision = precision
        self.device = device

    @property
    def needs_bbox_info(self) -> bool:
        """Like `HMR.needs_bbox_info`: the graph has a CameraHMR head."""
        return INPUT_BBOX_INFO in self.io.inputs

    def describe(self) -> str:
        batch = "any batch" if self.io.batch is None else f"batch {self.io.batch}"
        merging = ", Mask-ToMe mask input" if INPUT_PERSON_MASK in self.io.inputs else ""
        return f"{self.name} {self.precision} on {self.device} ({batch}{merging})"

    @abstractmethod
    def _run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One batch (exactly `io.batch` rows when fixed) of float32 CPU or device tensors."""

    @overload
    def __call__(
        self, crops: torch.Tensor, bbox_info: Array | None = None, person_mask: Array | None = None
    ) -> dict[str, torch.Tensor]: ...

    @overload
    def __call__(
        self, crops: np.ndarray, bbox_info: Array | None = None, person_mask: Array | None = None
    ) -> dict[str, np.ndarray]: ...

    def __call__(
        self, crops: Array, bbox_info: Array | None = None, person_mask: Array | None = None
    ) -> dict[str, torch.Tensor] | dict[str, np.ndarray]:
        """Same argument order as `HMR.forward`, so a runner can stand in for the model.

        crops (B, 3, 256, 256) normalised; bbox_info (B, 3) for CameraHMR heads; person_mask (B, N)
        bool or 0/1, ignored by graphs that do not merge tokens. Returns numpy arrays for numpy
        crops, torch tensors (on the runner's device) for torch crops.
        """
        as_numpy = isinstance(crops, np.ndarray)
        inputs = self._prepare(crops, person_mask, bbox_info)
        batch = inputs[INPUT_CROPS].shape[0]
        if batch == 0:
            raise InputError("no crops given (batch of 0)")
        step = self.io.batch or batch
        chunks = []
        for start in range(0, batch, step):
            part = {k: v[start : start + step] for k, v in inputs.items()}
            rows = part[INPUT_CROPS].shape[0]
            if rows < step:
                part = {k: _pad_rows(v, step) for k, v in part.items()}
            out = self._run(part)
            chunks.append({k: v[:rows] for k, v in out.items()})
        merged = {
            k: torch.cat([c[k] for c in chunks]) if len(chunks) > 1 else chunks[0][k] for k in chunks[0]
        }
        if as_numpy:
            return {k: v.detach().float().cpu().numpy() for k, v in merged.items()}
        return merged

    def _prepare(
        self, crops: Array, person_mask: Array | None, bbox_info: Array | None
    ) -> dict[str, torch.Tensor]:
        crops_t = _as_float_tensor(crops, INPUT_CROPS)
        if crops_t.dim() != 4 or tuple(crops_t.shape[1:]) != CROP_SHAPE:
            raise InputError(f"crops must be (B, 3, 256, 256), got {tuple(crops_t.shape)}")
        B = crops_t.shape[0]
        inputs = {INPUT_CROPS: crops_t}
        if INPUT_PERSON_MASK in self.io.inputs:
            if person_mask is None:
                # No mask: plain ToMe, every patch may merge.
                mask = torch.zeros(B, self.io.num_patches)
            else:
                mask = _as_float_tensor(person_mask, INPUT_PERSON_MASK)
            if tuple(mask.shape) != (B, self.io.num_patches):
                raise InputError(
                    f"person_mask must be (B, {self.io.num_patches}) for {B} crops, got {tuple(mask.shape)}"
                )
            inputs[INPUT_PERSON_MASK] = mask
        if INPUT_BBOX_INFO in self.io.inputs:
            if bbox_info is None:
                raise InputError("this model (CameraHMR head) needs bbox_info (B, 3)")
            info = _as_float_tensor(bbox_info, INPUT_BBOX_INFO)
            if tuple(info.shape) != (B, 3):
                raise InputError(f"bbox_info must be ({B}, 3), got {tuple(info.shape)}")
            inputs[INPUT_BBOX_INFO] = info
        return inputs


def _as_float_tensor(value: Array, what: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{what} must be a numpy array or torch tensor, got {type(value).__name__}")
    return value.float()


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    """Zero rows appended up to `rows`: padding crops of a fixed-batch graph, dropped afterwards."""
    pad = t.new_zeros((rows - t.shape[0], *t.shape[1:]))
    return torch.cat([t, pad])
