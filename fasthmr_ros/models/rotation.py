"""Rotation conversions with HMR 2.0's exact 6D convention.

The 6 numbers are read as a (2, 3) array and transposed, so a1 = x[0:3], a2 = x[3:6];
Gram-Schmidt gives b1, b2 and b3 = b1 x b2, stacked as the *columns* of R. Getting this layout
wrong silently produces plausible but wrong poses, hence one home for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3)."""
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def rotmat_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, the inverse of `rot6d_to_rotmat`."""
    return torch.cat((R[..., :, 0], R[..., :, 1]), dim=-1)


def axis_angle_to_rotmat(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) via Rodrigues' formula (stable near zero)."""
    angle = aa.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    axis = aa / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(*aa.shape[:-1], 3, 3)
    s = torch.sin(angle)[..., None]
    c = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    return eye + s * K + (1 - c) * (K @ K)


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) axis-angle (angle in [0, pi])."""
    trace = R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2]
    cos = ((trace - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    v = torch.stack(
        (R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]), -1
    )
    sin = torch.sin(angle)
    small = sin.abs() < 1e-6
    axis = v / (2 * sin.clamp_min(1e-6))[..., None]
    # Near pi the antisymmetric part vanishes: recover the axis from the symmetric part.
    sym = (R + torch.eye(3, dtype=R.dtype, device=R.device)) / 2
    diag_axis = torch.sqrt(torch.diagonal(sym, dim1=-2, dim2=-1).clamp_min(0))
    sign = torch.sign(
        torch.stack((sym[..., 0, 1] + 1e-12, sym[..., 1, 2] + 1e-12, sym[..., 0, 2] + 1e-12), -1)
    )
    diag_axis = diag_axis * torch.stack((torch.ones_like(sign[..., 0]), sign[..., 0], sign[..., 2]), -1)
    near_pi = small & (cos < 0)
    axis = torch.where(near_pi[..., None], F.normalize(diag_axis, dim=-1), axis)
    return torch.where(small[..., None] & ~near_pi[..., None], v / 2, axis * angle[..., None])
