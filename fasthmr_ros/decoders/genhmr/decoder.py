"""GenHMR as a `PoseDecoder`: sample the pose tokens, optionally refine them against 2D keypoints.

Returns GenHMR's global orientation and body pose; shape and camera stay the base head's (the
decoder interface replaces only the pose, and refinement projects with the base head's camera).
Without 2D keypoints (or without refinement enabled) the sampled pose is returned as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from fasthmr_ros.config import GenHMRConfig
from fasthmr_ros.decoders.base import DecoderInput, DecoderOutput
from fasthmr_ros.decoders.genhmr.checkpoint import load_genhmr
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.refinement import RefinementResult, refine
from fasthmr_ros.decoders.genhmr.sampling import SamplingResult, uncertainty_guided_sample
from fasthmr_ros.decoders.genhmr.skeleton import full_body_pose
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel

log = logging.getLogger(__name__)


class GenHMRDecoder:
    name = "genhmr"

    def __init__(
        self,
        tokenizer: PoseTokenizer,
        transformer: MaskedPoseTransformer,
        cfg: GenHMRConfig | None = None,
        body_model: BodyModel | None = None,
        device: str | torch.device = "cpu",
    ):
        """`body_model` is needed only for refinement (it poses SMPL to project the joints)."""
        self.cfg = cfg or GenHMRConfig()
        self.device = torch.device(device)
        self.tokenizer = tokenizer.to(self.device).eval().requires_grad_(False)
        self.transformer = transformer.to(self.device).eval().requires_grad_(False)
        self.body_model = body_model.to(self.device) if body_model is not None else None
        if self.cfg.refinement.enabled and body_model is None:
            log.warning("GenHMR: no body model given, so 2D pose-guided refinement is off")
        self.generator = None
        if self.cfg.sampling.seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(self.cfg.sampling.seed)
        self.last_sampling: SamplingResult | None = None
        self.last_refinement: RefinementResult | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        cfg: GenHMRConfig | None = None,
        body_model: BodyModel | None = None,
        device: str | torch.device = "cpu",
    ) -> GenHMRDecoder:
        """The architecture comes from the checkpoint; sampling/refinement settings from `cfg`."""
        tokenizer, transformer, _ = load_genhmr(path, map_location=device)
        return cls(tokenizer, transformer, cfg, body_model, device)

    def decode(self, batch: DecoderInput) -> DecoderOutput:
        B = len(batch.track_ids)
        if B == 0:
            empty = batch.body_pose.new_zeros(0, 23, 3, 3)
            return DecoderOutput(batch.global_orient.new_zeros(0, 1, 3, 3), empty, [])
        image_tokens = batch.image_tokens.to(self.device)
        if image_tokens.shape[-1] != self.transformer.cfg.context_dim:
            raise InputError(
                f"GenHMR was trained on {self.transformer.cfg.context_dim}-d backbone tokens, "
                f"got {image_tokens.shape[-1]}-d: use the checkpoint trained for this backbone"
            )
        head_token = (
            batch.head_token.to(self.device) if self.transformer.head_token_proj is not None else None
        )
        sampled = uncertainty_guided_sample(
            self.transformer, image_tokens, head_token, self.cfg.sampling, self.generator
        )
        self.last_sampling, self.last_refinement = sampled, None
        if self.cfg.refinement.enabled and batch.keypoints2d is not None and self.body_model is not None:
            result = refine(
                self.transformer,
                self.tokenizer,
                self.body_model,
                sampled.indices,
                image_tokens,
                head_token,
                batch.betas.to(self.device),
                batch.pred_cam.to(self.device),
                batch.keypoints2d.to(self.device),
                self.cfg.refinement,
            )
            self.last_refinement = result
            orient, body = result.global_orient, result.body_pose
        else:
            with torch.no_grad():
                orient, body = sampled.global_orient, full_body_pose(self.tokenizer.decode(sampled.indices))
        dtype = batch.body_pose.dtype
        return DecoderOutput(orient.to(dtype), body.to(dtype), [self.name] * B)
