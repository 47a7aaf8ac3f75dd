"""Decoder training features from a labelled data set, through the pipeline `fasthmr eval` runs.

A decoder learns from what the base model produces at run time, so the features come from the
same crops, camera maths, layer merging and token merging (with the same person masks) as the
evaluation: the pipeline's `begin` / `finish` split hands over the network outputs of each frame.

Clip tracks become one sequence per run of consecutive frames in which the person is usable
(`usable_persons`); every usable person of a still image becomes a one-frame sequence (a
per-frame decoder such as GenHMR trains on those; a temporal one should be given clips only).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from fasthmr_ros.decoders.data import FeatureSequence
from fasthmr_ros.evaluation.run import labelled_frames, match_boxes
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.samples.dataset import LabelledSet, usable_persons

PER_PERSON_OUTPUTS = ("head_token", "global_orient", "body_pose", "betas", "pred_cam", "image_tokens")


@torch.inference_mode()
def extract_features(
    pipeline: Pipeline, dataset: LabelledSet, image_tokens: bool = False, progress: bool = True
) -> list[FeatureSequence]:
    """Feature sequences (docs/decoders.md layout b) of every usable labelled person.

    `image_tokens`: also keep the backbone tokens (after any token merging), which GenHMR needs.
    """
    usable = np.zeros(dataset.num_persons, bool)
    usable[usable_persons(dataset)] = True
    per_row: dict[int, dict[str, np.ndarray]] = {}
    for frame in labelled_frames(dataset, keypoints=None, progress=progress, desc="extract"):
        if frame.starts_sequence:
            pipeline.reset()
        started = pipeline.begin(
            frame.image, frame.camera, frame.stamp_ns, "camera", frame.detections, frame.masks
        )
        outputs = None
        if started.crops is not None:
            outputs = pipeline.estimator.infer(started.crops, frame.camera, **started.model_kwargs)
            found = [d.bbox for d in started.detections]
            matched = match_boxes(found, dataset.boxes[frame.rows].astype(np.float64))
            for row, hit in zip(frame.rows, matched, strict=True):
                if usable[row] and hit is not None:
                    per_row[int(row)] = {
                        k: outputs[k][hit].float().cpu().numpy() for k in PER_PERSON_OUTPUTS if k in outputs
                    }
        pipeline.finish(started, outputs)
    return [_sequence(dataset, rows, per_row, name, image_tokens) for name, rows in _groups(dataset, per_row)]


def _groups(dataset: LabelledSet, per_row: dict[int, dict[str, np.ndarray]]) -> list[tuple[str, list[int]]]:
    """(name, person rows in time order): a run of consecutive frames per clip track, one row per
    still person."""
    clip = dataset.clip[dataset.image_index]
    frame = dataset.frame[dataset.image_index]
    tracks: dict[tuple[int, int], list[int]] = defaultdict(list)
    groups = []
    for row in sorted(per_row):
        if clip[row] < 0:
            groups.append((f"still{dataset.image_index[row]:06d}_{row:06d}", [row]))
        else:
            tracks[(int(clip[row]), int(dataset.track_id[row]))].append(row)
    for (clip_id, track), rows in sorted(tracks.items()):
        rows.sort(key=lambda r: frame[r])
        breaks = np.flatnonzero(np.diff(frame[rows]) != 1) + 1
        for part, run in enumerate(np.split(np.asarray(rows), breaks)):
            groups.append((f"clip{clip_id:04d}_track{track:03d}_{part:02d}", [int(r) for r in run]))
    return groups


def _sequence(
    dataset: LabelledSet, rows: list[int], per_row: dict[int, dict[str, np.ndarray]], name: str, tokens: bool
) -> FeatureSequence:
    def stack(key: str) -> np.ndarray:
        return np.stack([per_row[r][key] for r in rows])

    f32 = np.float32
    return FeatureSequence(
        head_token=stack("head_token"),
        global_orient=dataset.global_orient[rows].astype(f32),
        body_pose=dataset.body_pose[rows].astype(f32),
        betas=dataset.betas[rows].astype(f32),
        pred_global_orient=stack("global_orient")[:, 0],
        pred_body_pose=stack("body_pose"),
        pred_betas=stack("betas"),
        pred_cam=stack("pred_cam"),
        fps=dataset.fps,
        image_tokens=stack("image_tokens").astype(np.float16) if tokens else None,
        # the body model's frame: camera-frame joints without SMPL's transl
        joints3d=(dataset.joints_3d[rows] - dataset.transl[rows][:, None]).astype(f32),
        name=name,
    )
