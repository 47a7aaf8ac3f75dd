"""Training an HMR-structured model on a labelled data set (`fasthmr train-hmr`), on the CPU.

Why this exists: the embedded default must give estimates that follow their input, and only a
trained network does. The model is the same `HMR` (ViT backbone + SMPL head) as HMR 2.0 at a
small width; crops come from `crop_persons`, the pipeline's own crop path, so what the network
learns is what the pipeline feeds it.

Losses, all on exact labels: SMPL rotations (MSE on matrices), betas (MSE), pelvis-relative 3D
joints (L1, metres), 2D joints reprojected through the crop camera (L1 in crop units, HMR 2.0's
5000 px focal for a 256 crop) and the crop camera itself (L1 against the camera that places the
true body at its true translation). Optionally (`w_local`) the joints in the body's own frame,
which score articulation apart from the heading. Boxes are jittered like a detector's. `init`
fine-tunes a trained checkpoint instead of starting from fresh weights.

Determinism: batch `k` is drawn from `seed + k` alone, so a resumed run continues exactly where
the interrupted one was (same batches, same augmentation) and one command reproduces the weights.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.config import model_preset
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model, read_checkpoint_file, save_checkpoint
from fasthmr_ros.models.hmr import CROP_FOCAL, CROP_SIZE, HMR
from fasthmr_ros.models.joints import SMPL_MIRRORED
from fasthmr_ros.models.rotation import rotmat_to_rot6d
from fasthmr_ros.pipeline.crop import crop_persons
from fasthmr_ros.samples.dataset import LabelledSet, usable_persons

log = logging.getLogger(__name__)


@dataclass
class TrainHMRSettings:
    preset: str = "vit_xs"
    steps: int = 1200
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.05
    warmup: int = 100
    seed: int = 0
    box_jitter: float = 0.08  # relative shift and scale noise of the training boxes
    mirror: float = 0.5  # probability that a training crop is mirrored left-right (labels too)
    checkpoint_every: int = 250
    w_pose: float = 1.0
    w_betas: float = 0.05
    w_joints3d: float = 5.0
    w_joints2d: float = 1.0
    w_cam: float = 1.0
    w_local: float = 0.0  # joints in the body's own frame: articulation without the root's error
    init: str = ""  # checkpoint to fine-tune from ("" = fresh weights and head means)


def mean_rotations(rotations: np.ndarray) -> np.ndarray:
    """(N, J, 3, 3) -> (J, 3, 3) chordal mean: the nearest rotation to the average matrix."""
    u, _, vt = np.linalg.svd(rotations.mean(axis=0))
    det = np.sign(np.linalg.det(u @ vt))
    u[..., :, -1] *= det[..., None]
    return u @ vt


def crop_camera_target(
    transl: torch.Tensor, centers: torch.Tensor, sizes: torch.Tensor, K: torch.Tensor
) -> torch.Tensor:
    """The crop camera (B, 3) = (s, tx, ty) that `crop_cam_to_full` turns into `transl` (B, 3).

    K: (B, 3, 3) per-sample intrinsics (a data set mixes cameras).
    """
    fx, fy, px, py = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]
    bs = 2 * fx / transl[:, 2]  # = box size * s
    s = bs / sizes
    tx = transl[:, 0] - 2 * (centers[:, 0] - px) / bs
    ty = transl[:, 1] - 2 * (centers[:, 1] - py) * (fx / fy) / bs
    return torch.stack([s, tx, ty], dim=-1)


def crop_projection(joints: torch.Tensor, pred_cam: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) model-frame joints through the crop camera -> (B, J, 2) crop units in [-1, 1]."""
    s, tx, ty = pred_cam.unbind(-1)
    tz = 2 * CROP_FOCAL / (CROP_SIZE * s.clamp_min(1e-3))
    t = torch.stack([tx, ty, tz], dim=-1)[:, None]
    p = joints + t
    return CROP_FOCAL * p[..., :2] / p[..., 2:3].clamp_min(1e-3) / (CROP_SIZE / 2)


def body_frame(rel: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) root-relative joints, (B, 3, 3) root rotations -> the joints in the body's own
    frame, R^T x (x @ R for row vectors). A loss there scores the articulation alone: a wrong
    heading no longer dominates it, as it does in the camera frame."""
    return rel @ root


@dataclass
class Batch:
    crops: torch.Tensor  # (B, 3, 256, 256)
    global_orient: torch.Tensor  # (B, 1, 3, 3)
    body_pose: torch.Tensor  # (B, 23, 3, 3)
    betas: torch.Tensor  # (B, 10)
    joints3d: torch.Tensor  # (B, 24, 3) camera frame
    joints2d: torch.Tensor  # (B, 24, 2) crop units
    cam: torch.Tensor  # (B, 3) crop camera target


def _jitter(box: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    centre = (box[:2] + box[2:]) / 2 + rng.normal(0, amount, 2) * (box[2:] - box[:2])
    half = (box[2:] - box[:2]) / 2 * np.exp(rng.normal(0, amount))
    return np.concatenate([centre - half, centre + half])


def make_batch(dataset: LabelledSet, rows: np.ndarray, jitter: float, rng: np.random.Generator) -> Batch:
    """Crop the persons `rows` through the pipeline's crop path and gather their labels."""
    crops, centers, sizes = [], [], []
    for row in rows:
        image = dataset.image_rgb(int(dataset.image_index[row]))
        box = dataset.boxes[row] if jitter <= 0 else _jitter(dataset.boxes[row], jitter, rng)
        crop = crop_persons(image, box[None])
        crops.append(crop.crops)
        centers.append(crop.centers[0])
        sizes.append(crop.sizes[0])
    c = torch.as_tensor(np.stack(centers), dtype=torch.float32)
    b = torch.as_tensor(np.asarray(sizes), dtype=torch.float32)
    K = torch.as_tensor(dataset.intrinsics[dataset.image_index[rows]], dtype=torch.float32)
    j2d = (torch.as_tensor(dataset.joints_2d[rows]) - c[:, None]) / (b[:, None, None] / 2)

    def t(name: str) -> torch.Tensor:
        return torch.as_tensor(getattr(dataset, name)[rows], dtype=torch.float32)

    return Batch(
        crops=torch.cat(crops),
        global_orient=t("global_orient")[:, None],
        body_pose=t("body_pose"),
        betas=t("betas"),
        joints3d=t("joints_3d"),
        joints2d=j2d.float(),
        cam=crop_camera_target(t("transl"), c, b, K),
    )


_MIRROR_X = torch.tensor([-1.0, 1.0, 1.0])


def mirror_batch(batch: Batch, which: torch.Tensor) -> Batch:
    """Mirror the persons `which` (B,) bool left-right, image and labels alike.

    Why it is valid: the stand-in body and its clothing are left-right symmetric, so a mirrored
    crop shows the mirrored pose. A mirror about the camera's x axis turns every rotation R into
    M R M (M = diag(-1, 1, 1)), negates x of joints and of the crop camera, and swaps left and
    right joints; shape is unchanged. Doubles the poses and headings the network sees.
    """
    perm = list(SMPL_MIRRORED)
    M = torch.diag(_MIRROR_X)
    rotations = torch.cat([batch.global_orient, batch.body_pose], dim=1)  # (B, 24, 3, 3)
    rotations = (M @ rotations @ M)[:, perm]
    mirrored = Batch(
        crops=batch.crops.flip(-1),
        global_orient=rotations[:, :1],
        body_pose=rotations[:, 1:],
        betas=batch.betas,
        joints3d=(batch.joints3d * _MIRROR_X)[:, perm],
        joints2d=(batch.joints2d * _MIRROR_X[:2])[:, perm],
        cam=batch.cam * _MIRROR_X.roll(1),  # (s, tx, ty) -> (s, -tx, ty)
    )

    def pick(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(which.reshape(-1, *[1] * (a.dim() - 1)), b, a)

    return Batch(**{k: pick(getattr(batch, k), getattr(mirrored, k)) for k in Batch.__dataclass_fields__})


def init_head_means(model: HMR, dataset: LabelledSet, rows: np.ndarray) -> None:
    """The head regresses around the training set's mean pose, shape and camera (HMR's design);
    the mean-pose baseline of `fasthmr eval` reads these same buffers."""
    rotations = np.concatenate([dataset.global_orient[rows][:, None], dataset.body_pose[rows]], axis=1)
    mean_pose = torch.as_tensor(mean_rotations(rotations.astype(np.float64)), dtype=torch.float32)
    rng = np.random.default_rng(0)
    sample = rng.choice(rows, size=min(len(rows), 512), replace=False)
    cams = make_batch(dataset, np.sort(sample), 0.0, rng).cam
    head = model.smpl_head
    with torch.no_grad():
        head.init_body_pose.copy_(rotmat_to_rot6d(mean_pose).reshape(1, -1))
        head.init_betas.copy_(torch.as_tensor(dataset.betas[rows].mean(axis=0)).reshape(1, -1))
        head.init_cam.copy_(cams.median(dim=0).values.reshape(1, -1))


class HMRTrainer:
    """Owns model, optimiser and the schedule; `run` trains to `settings.steps` with checkpoints."""

    def __init__(
        self,
        dataset: LabelledSet,
        body: BodyModel,
        settings: TrainHMRSettings,
        work_dir: Path,
        val: LabelledSet | None = None,
    ) -> None:
        self.dataset, self.body, self.settings, self.val = dataset, body, settings, val
        self.work_dir = work_dir
        self.rows = usable_persons(dataset)
        if len(self.rows) < settings.batch_size:
            raise InputError(f"{dataset.root}: {len(self.rows)} usable persons, fewer than one batch")
        torch.manual_seed(settings.seed)
        if settings.init:
            self.model = load_model(settings.init)
            if self.model.config.preset != settings.preset:
                raise InputError(
                    f"{settings.init} is a {self.model.config.preset!r} model, not {settings.preset!r}"
                )
        else:
            self.model = HMR(model_preset(settings.preset))
            self.model.backbone.init_positions()
            init_head_means(self.model, dataset, self.rows)
        decay = [p for n, p in self.model.named_parameters() if p.dim() > 1 and "pos_embed" not in n]
        rest = [p for n, p in self.model.named_parameters() if not (p.dim() > 1 and "pos_embed" not in n)]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": settings.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=settings.lr,
        )
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.elapsed_s = 0.0

    def _lr(self, step: int) -> float:
        s = self.settings
        if step < s.warmup:
            return s.lr * (step + 1) / s.warmup
        progress = (step - s.warmup) / max(1, s.steps - s.warmup)
        return s.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        s = self.settings
        out = self.model(batch.crops)
        smpl = self.body(out["global_orient"], out["body_pose"], out["betas"])
        joints = smpl.smpl_joints  # (B, 24, 3) model frame
        true_rel = batch.joints3d - batch.joints3d[:, :1]
        rel = joints - joints[:, :1]
        parts = {
            "pose": ((out["global_orient"] - batch.global_orient) ** 2).mean()
            + ((out["body_pose"] - batch.body_pose) ** 2).mean(),
            "betas": ((out["betas"] - batch.betas) ** 2).mean(),
            "joints3d": (rel - true_rel).abs().mean(),
            "joints_local": (
                body_frame(rel, out["global_orient"][:, 0]) - body_frame(true_rel, batch.global_orient[:, 0])
            )
            .abs()
            .mean(),
            "joints2d": (crop_projection(joints, out["pred_cam"]) - batch.joints2d).abs().mean(),
            "cam": (out["pred_cam"] - batch.cam).abs().mean(),
        }
        weights = {
            "pose": s.w_pose,
            "betas": s.w_betas,
            "joints3d": s.w_joints3d,
            "joints2d": s.w_joints2d,
            "cam": s.w_cam,
            "joints_local": s.w_local,
        }
        parts["total"] = sum(weights[k] * v for k, v in parts.items())
        return parts

    def checkpoint_path(self) -> Path:
        return self.work_dir / "train_state.pt"

    def save_state(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path().with_suffix(".tmp")
        torch.save(
            {
                "step": self.step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "settings": asdict(self.settings),
                "history": self.history,
                "elapsed_s": self.elapsed_s,
            },
            tmp,
        )
        tmp.replace(self.checkpoint_path())

    def load_state(self) -> bool:
        """Continue from the work folder's state when present; False when starting fresh."""
        path = self.checkpoint_path()
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["settings"] != asdict(self.settings):
            raise InputError(
                f"{path} was written with other settings; use a new --work-dir or the same flags"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.history, self.elapsed_s = state["step"], state["history"], state["elapsed_s"]
        log.info("resuming from step %d (%s)", self.step, path)
        return True

    @torch.no_grad()
    def validate(self, limit: int = 256) -> float:
        """Pelvis-aligned MPJPE (mm) on up to `limit` persons of the validation set."""
        assert self.val is not None
        self.model.eval()
        rows = usable_persons(self.val)[:limit]
        errors = []
        for start in range(0, len(rows), 64):
            batch = make_batch(self.val, rows[start : start + 64], 0.0, np.random.default_rng(0))
            out = self.model(batch.crops)
            joints = self.body(out["global_orient"], out["body_pose"], out["betas"]).smpl_joints
            rel = joints - joints[:, :1]
            true_rel = batch.joints3d - batch.joints3d[:, :1]
            errors.append((rel - true_rel).norm(dim=-1).mean(dim=-1))
        self.model.train()
        return float(torch.cat(errors).mean() * 1000)

    def run(self, eval_every: int = 500, progress: bool = True) -> HMR:
        s = self.settings
        self.model.train()
        bar = tqdm(total=s.steps, initial=self.step, desc="train-hmr", unit="step", disable=not progress)
        while self.step < s.steps:
            start = time.perf_counter()
            rng = np.random.default_rng([s.seed, self.step])
            rows = np.sort(rng.choice(self.rows, size=s.batch_size, replace=False))
            batch = make_batch(self.dataset, rows, s.box_jitter, rng)
            if s.mirror > 0:
                batch = mirror_batch(batch, torch.as_tensor(rng.random(len(rows)) < s.mirror))
            for group in self.optimizer.param_groups:
                group["lr"] = self._lr(self.step)
            parts = self.losses(batch)
            self.optimizer.zero_grad(set_to_none=True)
            parts["total"].backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.step += 1
            self.elapsed_s += time.perf_counter() - start
            record = {"step": self.step, **{k: round(v.item(), 5) for k, v in parts.items()}}
            if self.val is not None and (self.step % eval_every == 0 or self.step == s.steps):
                record["val_mpjpe_mm"] = round(self.validate(), 2)
                log.info("step %d: validation MPJPE %.1f mm", self.step, record["val_mpjpe_mm"])
            self.history.append(record)
            bar.update()
            bar.set_postfix(loss=f"{record['total']:.3f}", j3d_mm=f"{record['joints3d'] * 1000:.0f}")
            if self.step % s.checkpoint_every == 0 or self.step == s.steps:
                self.save_state()
        bar.close()
        return self.model.eval()


def save_trained(trainer: HMRTrainer, out: str | Path, command: str) -> Path:
    """The trained model in the fasthmr_ros checkpoint format, with how it was made."""
    extra: dict[str, Any] = {
        "training": {
            "command": command,
            "settings": asdict(trainer.settings),
            "data": str(trainer.dataset.root),
            "persons": len(trainer.rows),
            "train_seconds": round(trainer.elapsed_s, 1),
            "final": trainer.history[-1] if trainer.history else {},
            "body_model": trainer.dataset.body_model,
        }
    }
    if trainer.settings.init:
        # A fine-tune reproduces only from its start, so the start's own record travels along:
        # the chain of `from` records is the whole recipe, oldest stage innermost.
        start = read_checkpoint_file(trainer.settings.init).get("extra", {})
        extra["training"]["from"] = start.get("training", {})
    path = save_checkpoint(trainer.model, out, extra=extra)
    path.with_suffix(".history.json").write_text(json.dumps(trainer.history))
    return path
