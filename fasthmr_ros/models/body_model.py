"""SMPL through `smplx`, with HMR 2.0's 44-joint set.

Why a wrapper: HMR 2.0 reports 25 OpenPose BODY_25 joints picked from smplx's 45 joints plus 19
joints regressed from vertices (`SMPL_to_J19.pkl`); users comparing against the official numbers
need exactly that set. Without the J19 regressor we fall back to smplx's own 45 joints and say so.

Official SMPL `.pkl` files pickle `chumpy` arrays; chumpy does not import on current numpy, so we
unpickle those objects as plain numpy arrays instead of requiring it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import smplx
import torch
from smplx.utils import Struct
from torch import nn

from fasthmr_ros.assets.paths import SMPL_HELP
from fasthmr_ros.errors import MissingFileError
from fasthmr_ros.models.joints import JOINT_SET_HMR2, JOINT_SET_SMPL, NUM_SMPL_JOINTS, SMPL_TO_OPENPOSE

NUM_VERTICES = 6890
NUM_FACES = 13776


class _ChumpyArray:
    """Stands in for a pickled `chumpy.Ch` array; keeps only its value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"x": state}

    def value(self) -> np.ndarray:
        for key in ("x", "a", "r"):
            if key in self.state:
                return np.asarray(self.state[key])
        raise ValueError(f"cannot read a chumpy array with fields {sorted(self.state)}")


class _SmplUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            return _ChumpyArray
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    if isinstance(value, _ChumpyArray):
        return value.value()
    if scipy.sparse.issparse(value):
        return value.toarray()
    return value


def read_smpl_pkl(path: str | Path) -> dict[str, Any]:
    """Read an SMPL model `.pkl` (official or generated) as a dict of numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"SMPL model file not found: {path}. {SMPL_HELP}")
    try:
        with open(path, "rb") as f:
            data = _SmplUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError) as exc:
        raise MissingFileError(f"{path} is not a readable SMPL .pkl ({exc}). {SMPL_HELP}") from exc
    required = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table"}
    missing = sorted(required - set(data))
    if missing:
        raise MissingFileError(f"{path} lacks SMPL fields {missing}. {SMPL_HELP}")
    return {k: _plain(v) for k, v in data.items()}


def read_j19_regressor(path: str | Path) -> np.ndarray:
    """`SMPL_to_J19.pkl`: a (19, 6890) vertex->joint regressor."""
    with open(path, "rb") as f:
        reg = _plain(pickle.load(f, encoding="latin1"))
    reg = np.asarray(reg, dtype=np.float32)
    if reg.ndim != 2 or reg.shape[1] != NUM_VERTICES:
        raise ValueError(f"{path}: expected a (19, {NUM_VERTICES}) regressor, got {reg.shape}")
    return reg


@dataclass
class BodyOutput:
    vertices: torch.Tensor  # (B, 6890, 3), model frame (no translation)
    joints: torch.Tensor  # (B, J, 3)
    smpl_joints: torch.Tensor  # (B, 24, 3) kinematic-tree joints (what IK/decoders use)
    joint_set: str


class BodyModel(nn.Module):
    """SMPL with rotation-matrix input, returning HMR 2.0's joint set when it can."""

    faces_tensor: torch.Tensor  # buffers, registered in __init__
    j19_regressor: torch.Tensor | None

    def __init__(self, smpl_path: str | Path, j19_path: str | Path | None = None, num_betas: int = 10):
        super().__init__()
        data = read_smpl_pkl(smpl_path)
        self.smpl_path = str(smpl_path)
        self.smpl = smplx.SMPL(
            model_path=str(smpl_path),
            data_struct=Struct(**data),
            num_betas=num_betas,
            create_betas=False,
            create_global_orient=False,
            create_body_pose=False,
            create_transl=False,
        )
        self.num_betas = num_betas
        self.register_buffer("faces_tensor", torch.as_tensor(np.asarray(data["f"], dtype=np.int64)))
        if j19_path is not None and Path(j19_path).is_file():
            self.register_buffer("j19_regressor", torch.as_tensor(read_j19_regressor(j19_path)))
            self.joint_set = JOINT_SET_HMR2
        else:
            self.j19_regressor = None
            self.joint_set = JOINT_SET_SMPL

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle list (fixed for every body)."""
        return self.faces_tensor.cpu().numpy()

    @property
    def parents(self) -> torch.Tensor:
        """(24,) parent index of each SMPL joint (-1 for the root)."""
        return self.smpl.parents

    def forward(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor
    ) -> BodyOutput:
        """global_orient (B,1,3,3), body_pose (B,23,3,3), betas (B,num_betas) -> BodyOutput."""
        out = self.smpl(
            global_orient=global_orient.float(),
            body_pose=body_pose.float(),
            betas=betas.float(),
            pose2rot=False,
        )
        smpl_joints = out.joints[:, :NUM_SMPL_JOINTS]
        if self.j19_regressor is not None:
            extra = torch.einsum("jv,bvc->bjc", self.j19_regressor, out.vertices)
            joints = torch.cat([out.joints[:, list(SMPL_TO_OPENPOSE)], extra], dim=1)
        else:
            joints = out.joints
        return BodyOutput(out.vertices, joints, smpl_joints, self.joint_set)
