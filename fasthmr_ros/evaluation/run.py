"""Accuracy of a pipeline on a labelled data set, through the real per-frame path.

Every image goes through `Pipeline.process` with the true boxes as upstream detections (and the
true person masks, which Mask-ToMe's segmentation source uses) and the true intrinsics as
CameraInfo: crops, camera maths, token merging and pose decoders are the ones the node runs.
Still images are independent (the pipeline is reset before each); clip frames run in order, so
the temporal decoders see their history. Estimates are matched to labelled persons by box.

The 24 SMPL joints (and the vertices, for PVE) of both estimate and truth come from the same body
model, so the numbers compare poses and shapes, not joint conventions. Persons hidden more than
`MIN_VISIBLE` are left out, as in training.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fasthmr_ros.config import DecoderConfig, GenHMRConfig, MergingConfig, PipelineConfig, TrackerConfig
from fasthmr_ros.evaluation import metrics
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.hmr import HMR
from fasthmr_ros.models.rotation import rot6d_to_rotmat
from fasthmr_ros.pipeline.core import Pipeline, build_pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.result import CameraIntrinsics, PersonResult
from fasthmr_ros.samples.dataset import LabelledSet, usable_persons

MM = 1000.0
PER_CROP_STAGES = ("crop", "model", "decoder", "smpl")


@dataclass
class Estimates:
    """What the pipeline returned for the labelled persons it found (rows into the data set)."""

    rows: list[int] = field(default_factory=list)
    global_orient: list[np.ndarray] = field(default_factory=list)
    body_pose: list[np.ndarray] = field(default_factory=list)
    betas: list[np.ndarray] = field(default_factory=list)
    transl: list[np.ndarray] = field(default_factory=list)
    per_crop_ms: list[float] = field(default_factory=list)
    model_ms: list[float] = field(default_factory=list)
    missed: int = 0

    def add(self, row: int, person: PersonResult) -> None:
        self.rows.append(row)
        self.global_orient.append(person.global_orient)
        self.body_pose.append(person.body_pose)
        self.betas.append(person.betas)
        self.transl.append(person.transl)


def match_boxes(found: Sequence[np.ndarray], boxes: np.ndarray) -> list[int | None]:
    """For each labelled box, the index of the found box cropped from it (None when dropped)."""
    taken: set[int] = set()
    out: list[int | None] = []
    for box in boxes:
        best, best_d = None, 2.0  # pixels: the pipeline only clips boxes to the image
        for i, bbox in enumerate(found):
            d = float(np.abs(bbox - box).max())
            if i not in taken and d < best_d:
                best, best_d = i, d
        if best is not None:
            taken.add(best)
        out.append(best)
    return out


def evaluation_pipeline(
    checkpoint: str | None = None,
    smpl: str | None = None,
    device: str = "cpu",
    decoder: DecoderConfig | None = None,
    merging: MergingConfig | None = None,
    genhmr: GenHMRConfig | None = None,
) -> Pipeline:
    """The node's pipeline fed with true boxes: every labelled person is estimated, none dropped
    for size, and a track is reported from its first frame. `genhmr`: GenHMR's sampling and
    refinement settings (when `decoder` selects it)."""
    cfg = PipelineConfig(
        checkpoint=checkpoint,
        smpl=smpl,
        device=device,
        detection="upstream",
        max_persons=64,
        min_box_size=1,
        tracker=TrackerConfig(min_hits=1),
    )
    return build_pipeline(cfg, decoder or DecoderConfig(), merging, genhmr or GenHMRConfig())


@dataclass
class LabelledFrame:
    """One labelled image as the pipeline's inputs: true boxes as upstream detections."""

    index: int
    rows: np.ndarray  # (n,) its person rows, in label-map order
    image: np.ndarray  # (H, W, 3) uint8 RGB
    camera: CameraIntrinsics
    stamp_ns: int
    detections: list[Detection]
    masks: list[np.ndarray] | None  # None: the set has no person masks
    starts_sequence: bool  # a still image or a clip's first frame: the pipeline forgets its tracks


def labelled_frames(
    dataset: LabelledSet,
    limit: int | None = None,
    keypoints: np.ndarray | None = None,
    progress: bool = True,
    desc: str = "eval",
) -> Iterator[LabelledFrame]:
    """Every image (or the first `limit`) in order, with its true boxes, masks and intrinsics.

    `keypoints` (P, K, 3), one row per labelled person: 2D keypoints (pixels, confidence) handed
    over with each box, as an upstream keypoint detector would (GenHMR refines with them).
    """
    count = dataset.num_images if limit is None else min(limit, dataset.num_images)
    previous_clip = None
    for index in tqdm(range(count), desc=desc, unit="image", disable=not progress):
        clip = int(dataset.clip[index])
        rows = dataset.persons_of(index)
        image = dataset.image_rgb(index)
        K = dataset.intrinsics[index]
        h, w = image.shape[:2]
        labels = dataset.mask(index)
        yield LabelledFrame(
            index=index,
            rows=rows,
            image=image,
            camera=CameraIntrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), w, h),
            stamp_ns=round(int(dataset.frame[index]) / dataset.fps * 1e9),
            detections=[
                Detection(dataset.boxes[r], keypoints=None if keypoints is None else keypoints[r])
                for r in rows
            ],
            masks=None if labels is None else [labels == k + 1 for k in range(len(rows))],
            starts_sequence=clip < 0 or clip != previous_clip,
        )
        previous_clip = clip


def run_pipeline(
    pipeline: Pipeline,
    dataset: LabelledSet,
    limit: int | None = None,
    progress: bool = True,
    keypoints: np.ndarray | None = None,
) -> Estimates:
    """Process every image (or the first `limit`) and collect the estimates of usable persons
    (`keypoints`: see `labelled_frames`)."""
    usable = np.zeros(dataset.num_persons, bool)
    usable[usable_persons(dataset)] = True
    est = Estimates()
    for frame in labelled_frames(dataset, limit, keypoints, progress):
        if frame.starts_sequence:
            pipeline.reset()
        rows = frame.rows
        result = pipeline.process(
            frame.image, frame.camera, frame.stamp_ns, "camera", frame.detections, frame.masks
        )
        matched = match_boxes([p.bbox for p in result.persons], dataset.boxes[rows].astype(np.float64))
        for row, hit in zip(rows, matched, strict=True):
            if not usable[row]:
                continue
            if hit is None:
                est.missed += 1
                continue
            est.add(int(row), result.persons[hit])
        if result.persons:
            per_crop = sum(result.timings_ms.get(s, 0.0) for s in PER_CROP_STAGES) / len(result.persons)
            est.per_crop_ms.append(per_crop)
            est.model_ms.append(result.timings_ms.get("model", 0.0) / len(result.persons))
    return est


@torch.no_grad()
def _body(
    body: BodyModel, go: np.ndarray, bp: np.ndarray, betas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 24, 3) SMPL joints and (N, V, 3) vertices, in chunks to bound memory."""
    joints, verts = [], []
    for start in range(0, len(go), 256):
        sl = slice(start, start + 256)
        out = body(
            torch.as_tensor(go[sl], dtype=torch.float32)[:, None],
            torch.as_tensor(bp[sl], dtype=torch.float32),
            torch.as_tensor(betas[sl], dtype=torch.float32),
        )
        joints.append(out.smpl_joints.double().numpy())
        verts.append(out.vertices.double().numpy())
    return np.concatenate(joints), np.concatenate(verts)


def mean_pose_of(model: HMR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean pose and shape a model's head regresses around (its training set's means):
    (3, 3) global orientation, (23, 3, 3) body pose, (B,) betas."""
    head = model.smpl_head
    rot = rot6d_to_rotmat(head.init_body_pose.detach().cpu().reshape(-1, 6)).double().numpy()
    return rot[0], rot[1:], head.init_betas.detach().cpu().double().numpy().reshape(-1)


def accuracy(
    est: Estimates,
    dataset: LabelledSet,
    body: BodyModel,
    mean_pose: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """MPJPE, PA-MPJPE, PVE (mm), the mean-pose baseline's MPJPE and, for clips, accel error."""
    if not est.rows:
        raise ValueError("no labelled person was estimated")
    rows = np.asarray(est.rows)
    pred_j, pred_v = _body(body, np.stack(est.global_orient), np.stack(est.body_pose), np.stack(est.betas))
    true_j, true_v = _body(body, dataset.global_orient[rows], dataset.body_pose[rows], dataset.betas[rows])
    n = len(rows)
    go, bp, betas = mean_pose
    mean_j, _ = _body(
        body, np.repeat(go[None], n, 0), np.repeat(bp[None], n, 0), np.repeat(betas[None], n, 0)
    )
    per_person = metrics.mpjpe(pred_j, true_j) * MM
    mean_per_person = metrics.mpjpe(mean_j, true_j) * MM
    report: dict[str, Any] = {
        "mpjpe_mm": float(per_person.mean()),
        "pa_mpjpe_mm": float(metrics.pa_mpjpe(pred_j, true_j).mean() * MM),
        "pve_mm": float(metrics.pve(pred_v, pred_j, true_v, true_j).mean() * MM),
        "mean_pose_mpjpe_mm": float(mean_per_person.mean()),
        "persons": n,
        "missed": est.missed,
        "mpjpe_mm_median": float(np.median(per_person)),
    }
    report.update(_placement(rows, pred_j + np.stack(est.transl)[:, None], dataset))
    report["by_kind"] = _by_kind(rows, per_person, mean_per_person, dataset)
    accel = _accel(rows, pred_j, true_j, dataset)
    if accel is not None:
        report["accel_mm"] = accel
    if est.per_crop_ms:
        report["per_crop_ms_median"] = statistics.median(est.per_crop_ms)
        report["model_ms_per_crop_median"] = statistics.median(est.model_ms)
    report["per_person_mpjpe_mm"] = [round(float(v), 2) for v in per_person]
    return report


def _by_kind(
    rows: np.ndarray, per_person: np.ndarray, mean_per_person: np.ndarray, dataset: LabelledSet
) -> dict[str, dict[str, float]]:
    """MPJPE and the mean-pose baseline apart for still images and clip frames: clips hold
    smooth everyday motion, stills also random joint-limit poses, so a mixed set's single ratio
    hides how far apart the two are."""
    in_clip = dataset.clip[dataset.image_index[rows]] >= 0
    kinds = {}
    for kind, sel in (("stills", ~in_clip), ("clips", in_clip)):
        if sel.any():
            kinds[kind] = {
                "persons": int(sel.sum()),
                "mpjpe_mm": float(per_person[sel].mean()),
                "mean_pose_mpjpe_mm": float(mean_per_person[sel].mean()),
            }
    return kinds


def _placement(rows: np.ndarray, pred_camera: np.ndarray, dataset: LabelledSet) -> dict[str, float]:
    """Where the body was put, which pelvis-aligned metrics cannot see (crops, camera maths):
    camera-frame pelvis error (mm), and the 2D joint error in pixels and relative to box height."""
    true = dataset.joints_3d[rows].astype(np.float64)
    K = dataset.intrinsics[dataset.image_index[rows]]
    focal, centre = K[:, None, [0, 1], [0, 1]], K[:, None, :2, 2]
    pred_uv = pred_camera[..., :2] / pred_camera[..., 2:3] * focal + centre
    px = np.linalg.norm(pred_uv - dataset.joints_2d[rows], axis=-1).mean(axis=-1)
    height = dataset.box_heights[rows]
    return {
        "pelvis_error_mm": float(np.linalg.norm(pred_camera[:, 0] - true[:, 0], axis=-1).mean() * MM),
        "joints2d_px": float(px.mean()),
        "joints2d_box_fraction": float((px / height).mean()),
    }


def _accel(rows: np.ndarray, pred: np.ndarray, true: np.ndarray, dataset: LabelledSet) -> float | None:
    """Mean acceleration error over every clip track's runs of consecutive frames (None: no clips)."""
    errors = []
    clip = dataset.clip[dataset.image_index[rows]]
    frame = dataset.frame[dataset.image_index[rows]]
    track = dataset.track_id[rows]
    for tid in np.unique(track[clip >= 0]):
        sel = np.flatnonzero((track == tid) & (clip >= 0))
        sel = sel[np.argsort(frame[sel])]
        # split where frames are missing (person hidden or dropped): accelerations need neighbours
        breaks = np.flatnonzero(np.diff(frame[sel]) != 1) + 1
        for run in np.split(sel, breaks):
            errors.append(metrics.accel_error(pred[run], true[run]))
    joined = np.concatenate(errors) if errors else np.zeros(0)
    return float(joined.mean() * MM) if len(joined) else None
