"""Image + boxes + intrinsics -> per-person SMPL results: crops, network, SMPL, full-image camera.

Split in three steps (`prepare`, `infer`, `to_persons`) because the pipeline puts tracking,
token-merging masks and temporal decoders between them; `estimate` runs all three for the
single-image case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.pipeline.camera import bbox_info, crop_cam_to_full, project
from fasthmr_ros.pipeline.crop import CropBatch, crop_persons
from fasthmr_ros.pipeline.result import CameraIntrinsics, PersonResult


class MeshEstimator:
    def __init__(
        self,
        model: HMR,
        body: BodyModel,
        device: str | torch.device = "cpu",
        crop_policy: str | None = None,
        return_vertices: bool = False,
    ) -> None:
        self.model = model.eval().to(device)
        self.body = body.to(device)
        self.device = torch.device(device)
        # CameraHMR squares boxes on max(w, h); HMR 2.0 first expands them to 3:4.
        self.crop_policy = crop_policy or ("square" if model.needs_bbox_info else "hmr2")
        self.return_vertices = return_vertices

    def prepare(self, image_rgb: np.ndarray, boxes: np.ndarray) -> CropBatch:
        return crop_persons(image_rgb, boxes, self.crop_policy)

    def _bbox_info(self, batch: CropBatch, camera: CameraIntrinsics) -> torch.Tensor | None:
        if not self.model.needs_bbox_info:
            return None
        return bbox_info(torch.from_numpy(batch.centers), torch.from_numpy(batch.sizes), camera)

    @torch.inference_mode()
    def infer(
        self, batch: CropBatch, camera: CameraIntrinsics, **model_kwargs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Run the network on a crop batch; extra kwargs (e.g. person masks) go to the model."""
        return self.network(batch.crops, self._bbox_info(batch, camera), **model_kwargs)

    def network(
        self, crops: torch.Tensor, info: torch.Tensor | None, **model_kwargs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The one network call (a backend runner replaces it): (B, 3, 256, 256) crops and
        (B, 3) bbox_info (CameraHMR) -> batch-first outputs."""
        info = None if info is None else info.to(self.device)
        return self.model(crops.to(self.device), bbox_info=info, **model_kwargs)

    @torch.inference_mode()
    def infer_many(
        self,
        batches: Sequence[CropBatch],
        cameras: Sequence[CameraIntrinsics],
        model_kwargs: Sequence[dict[str, torch.Tensor]],
    ) -> list[dict[str, torch.Tensor]]:
        """One forward pass over the crops of several images (each with its own camera and
        extra model inputs), outputs split back per image. Every output is batch-first."""
        sizes = [len(b) for b in batches]
        crops = torch.cat([b.crops for b in batches])
        infos = [self._bbox_info(b, c) for b, c in zip(batches, cameras, strict=True)]
        present = [i for i in infos if i is not None]  # all or none: the model decides
        info = torch.cat(present) if present else None
        keys = set(model_kwargs[0])
        if any(set(k) != keys for k in model_kwargs):
            raise ValueError("every image of a batched forward must bring the same model inputs")
        extra = {key: torch.cat([k[key] for k in model_kwargs]) for key in keys}
        outputs = self.network(crops, info, **extra)
        parts = {name: torch.split(value, sizes) for name, value in outputs.items()}
        return [{name: chunks[i] for name, chunks in parts.items()} for i in range(len(batches))]

    @torch.inference_mode()
    def to_persons(
        self,
        outputs: dict[str, torch.Tensor],
        batch: CropBatch,
        camera: CameraIntrinsics,
        scores: Sequence[float] | None = None,
        track_ids: Sequence[int] | None = None,
        global_orient: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        decoders: Sequence[str] | None = None,
    ) -> list[PersonResult]:
        """SMPL + camera for each person; `global_orient`/`body_pose` override the head's pose."""
        P = len(batch)
        if P == 0:
            return []
        go = outputs["global_orient"] if global_orient is None else global_orient
        bp = outputs["body_pose"] if body_pose is None else body_pose
        betas = outputs["betas"]
        smpl = self.body(go.float(), bp.float(), betas.float())
        centers = torch.from_numpy(batch.centers).to(self.device, torch.float64)
        sizes = torch.from_numpy(batch.sizes).to(self.device, torch.float64)
        transl = crop_cam_to_full(outputs["pred_cam"].double(), centers, sizes, camera)  # (P, 3)
        joints3d = smpl.joints.double() + transl[:, None]
        joints2d = project(joints3d, camera)
        vertices = smpl.vertices.double() + transl[:, None] if self.return_vertices else None
        scores = [1.0] * P if scores is None else scores
        track_ids = list(range(P)) if track_ids is None else track_ids
        decoders = ["regression"] * P if decoders is None else decoders

        def np32(t: torch.Tensor) -> np.ndarray:
            return t.detach().float().cpu().numpy()

        return [
            PersonResult(
                track_id=int(track_ids[i]),
                score=float(scores[i]),
                bbox=batch.boxes[i].astype(np.float32),
                global_orient=np32(go[i, 0]),
                body_pose=np32(bp[i]),
                betas=np32(betas[i]),
                transl=np32(transl[i]),
                joints3d=np32(joints3d[i]),
                joints2d=np32(joints2d[i]),
                joint_set=smpl.joint_set,
                pred_cam=np32(outputs["pred_cam"][i]),
                vertices=None if vertices is None else np32(vertices[i]),
                decoder=decoders[i],
            )
            for i in range(P)
        ]

    def estimate(
        self,
        image_rgb: np.ndarray,
        boxes: np.ndarray,
        camera: CameraIntrinsics,
        scores: Sequence[float] | None = None,
    ) -> list[PersonResult]:
        batch = self.prepare(image_rgb, boxes)
        outputs = self.infer(batch, camera)
        return self.to_persons(outputs, batch, camera, scores=scores)
