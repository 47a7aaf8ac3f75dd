"""Tiny GenHMR models and synthetic poses shared by the GenHMR tests."""

from __future__ import annotations

import torch
from scipy.spatial.transform import Rotation

from fasthmr_ros.config import GenHMRTokenizerConfig, GenHMRTransformerConfig
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer

TINY_TOKENIZER = GenHMRTokenizerConfig(
    num_tokens=8, codebook_size=64, code_dim=16, hidden_dim=48, num_res_blocks=2
)
TINY_TRANSFORMER = GenHMRTransformerConfig(
    dim=32, depth=2, heads=2, mlp_dim=64, dropout=0.0, context_dim=24, head_token_dim=16
)


def tiny_models(seed: int = 0) -> tuple[PoseTokenizer, MaskedPoseTransformer]:
    """Random-weight tokenizer (codebook spread out so codes decode to distinct poses) and transformer."""
    torch.manual_seed(seed)
    tokenizer = PoseTokenizer(TINY_TOKENIZER).eval()
    with torch.no_grad():
        tokenizer.codebook.embed.normal_(0.0, 1.0)
    transformer = MaskedPoseTransformer(
        TINY_TRANSFORMER, TINY_TOKENIZER.num_tokens, TINY_TOKENIZER.codebook_size
    )
    return tokenizer, transformer.eval()


def synthetic_poses(count: int, basis: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(count, 21, 3, 3) poses on a low-dimensional manifold: axis-angle = basis @ z, z ~ N(0, I)."""
    z = torch.randn(count, basis.shape[1], generator=generator)
    rotvecs = (z @ basis.T).reshape(-1, 3).double().numpy()
    rotations = torch.as_tensor(Rotation.from_rotvec(rotvecs).as_matrix(), dtype=torch.float32)
    return rotations.reshape(count, 21, 3, 3)


def pose_basis(dims: int = 4, scale: float = 0.25, seed: int = 0) -> torch.Tensor:
    return torch.randn(63, dims, generator=torch.Generator().manual_seed(seed)) * scale


def image_context(batch: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 10, TINY_TRANSFORMER.context_dim, generator=g), torch.randn(
        batch, TINY_TRANSFORMER.head_token_dim, generator=g
    )
