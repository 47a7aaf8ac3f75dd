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
