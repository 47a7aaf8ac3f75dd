"""The per-frame pipeline every front end shares (bag tool, live node, demo): no ROS imports.

image + intrinsics (+ upstream boxes/masks) -> detect or propagate -> track -> crops -> model
(with Mask-ToMe person masks when token merging is on) -> pose decoder -> SMPL -> full-image
camera -> per-track history -> `FrameResult` with per-stage timings.

State lives here (tracker, histories, last results) because the temporal decoders and the
detect-every-N propagation need the previous frames; `reset()` forgets it (a new recording, a
jump in time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import torch

from fasthmr_ros.config import DETECTION_MODES, MergingConfig, PipelineConfig
from fasthmr_ros.decoders.base import DecoderInput, PoseDecoder, RegressionDecoder
from fasthmr_ros.decoders.history import TrackFrame, TrackRingBuffer
from fasthmr_ros.errors import FastHMRError, InputError
from fasthmr_ros.models.hmr import CROP_SIZE
from fasthmr_ros.pipeline.crop import CropBatch
from fasthmr_ros.pipeline.detection import (
    Detection,
    box_relation,
    clip_box,
    fixed_region_detection,
    points_extent,
    propagate_detection,
    select_detections,
)
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.pipeline.tracking import TrackedDetection, Tracker
from fasthmr_ros.pipeline.yolo import YoloOnnxDetector, attach_keypoints

# Stage names in FrameResult.timings_ms; they do not overlap, so their sum is the frame's cost.
STAGES = ("detect", "keypoints", "track", "crop", "model", "decoder", "smpl", "history")


@dataclass
class _LastSeen:
    """What the previous frame produced for a track: the seed of propagation and silhouettes."""

    detection: Detection
    joints2d: np.ndarray  # (J, 2) pixels
    vertices: np.ndarray | None  # (V, 3) camera frame, when silhouettes are needed
    relation: np.ndarray | None  # detector box around the joint extent (see box_relation)


class _Stopwatch:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - start) * 1e3


@dataclass
class StartedFrame:
    """A frame between `Pipeline.begin` and `Pipeline.finish`: its tracks and their crops."""

    stamp_ns: int
    frame_id: str
    camera: CameraIntrinsics
    width: int
    height: int
    clock: _Stopwatch
    tracked: list[TrackedDetection]  # best first, at most max_persons
    crops: CropBatch | None = None  # None when nobody is tracked
    to_crop: np.ndarray | None = None  # (P, 2, 3) image -> crop affine maps
    model_kwargs: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. person_mask (P, N)

    @property
    def track_ids(self) -> list[int]:
        return [t.track_id for t in self.tracked]

    @property
    def detections(self) -> list[Detection]:
        return [t.detection for t in self.tracked]


def _image_to_crop(batch: CropBatch) -> np.ndarray:
    """(P, 2, 3) affine maps image pixels -> 256-crop pixels."""
    return np.stack([cv2.invertAffineTransform(m) for m in batch.crop_to_image()])


def _as_normal(t: torch.Tensor) -> torch.Tensor:
    """Model outputs are made under inference_mode; decoders that optimise (GenHMR) need plain tensors."""
    return t.clone() if t.is_inference() else t


class Pipeline:
    """One instance per camera stream; `process` is called once per frame, in stamp order."""

    def __init__(
        self,
        estimator: MeshEstimator,
        config: PipelineConfig | None = None,
        decoder: PoseDecoder | None = None,
        detector: YoloOnnxDetector | None = None,
        keypoint_detector: YoloOnnxDetector | None = None,
        merging: MergingConfig | None = None,
    ) -> None:
        self.config = cfg = config or PipelineConfig()
        if cfg.detection not in DETECTION_MODES:
            raise FastHMRError(f"detection must be one of {DETECTION_MODES}, got {cfg.detection!r}")
        if cfg.detection == "onnx" and detector is None:
            raise FastHMRError("detection 'onnx' needs a detector model (detector_model / --detector-model)")
        if cfg.detect_every < 1 or cfg.max_persons < 1:
            raise FastHMRError("detect_every and max_persons must be >= 1")
        self.estimator = estimator
        self.decoder: PoseDecoder = decoder or RegressionDecoder()
        self.detector = detector
        self.keypoint_detector = keypoint_detector
        self.merging = merging
        # The pipeline's setting is authoritative: None switches merging off on a shared model.
        schedule = estimator.model.set_token_merging(merging)
        mask_source = merging.mask_source if merging is not None and schedule.active else "none"
        self._mask_tokens = mask_source != "none"
        self._needs_silhouette = mask_source in ("auto", "silhouette")
        self.set_output_vertices(cfg.output_vertices)
        # What `build_pipeline` loaded, for front ends to report (and warn about the embedded default).
        self.model_description = "given"
        self.body_description = "given"
        self.embedded = False
        self.reset()

    def sibling(self) -> Pipeline:
        """A pipeline for another camera: the same models and settings (one loaded network, so
        `multi_camera` can batch them), its own tracks and histories."""
        other = Pipeline(
            self.estimator, self.config, self.decoder, self.detector, self.keypoint_detector, self.merging
        )
        other.model_description, other.body_description = self.model_description, self.body_description
        other.embedded = self.embedded
        return other

    def set_output_vertices(self, on: bool) -> None:
        """Vertices in the results or not. SMPL computes them anyway; the estimator keeps them
        also when silhouettes (person masks for token merging) are drawn from them."""
        self.config.output_vertices = on
        self.estimator.return_vertices = on or self._needs_silhouette

    def reset(self) -> None:
        """Forget every track and history (a new recording, or time jumped backwards)."""
        self.tracker = Tracker(**vars(self.config.tracker))
        # A temporal decoder reads a longer window than the configured minimum: keep enough for it.
        window = max(self.config.history_window, getattr(self.decoder, "history_frames", 0))
        self.history = TrackRingBuffer(window, self.config.tracker.max_age)
        self._last: dict[int, _LastSeen] = {}
        self._frames_since_detection: int | None = None
        self.frame_index = 0

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) the fixed triangle list of every output mesh."""
        return self.estimator.body.faces

    def process(
        self,
        image_rgb: np.ndarray,
        camera: CameraIntrinsics,
        stamp_ns: int,
        frame_id: str,
        detections: Sequence[Detection] | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> FrameResult:
        """One frame. `detections` are upstream person boxes (full-image pixels), `masks` their
        optional (H, W) person masks in the same order. Raises InputError for an unusable frame
        (the pipeline state is then unchanged)."""
        started = self.begin(image_rgb, camera, stamp_ns, frame_id, detections, masks)
        outputs = None
        if started.crops is not None:
            with started.clock.stage("model"):
                outputs = self.estimator.infer(started.crops, camera, **started.model_kwargs)
        return self.finish(started, outputs)

    def begin(
        self,
        image_rgb: np.ndarray,
        camera: CameraIntrinsics,
        stamp_ns: int,
        frame_id: str,
        detections: Sequence[Detection] | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> StartedFrame:
        """Everything before the network: detect, track, crop. The crops may then go through the
        network alone (`process`) or batched with other cameras' (`multi_camera`); `finish` takes
        the network's outputs for exactly these crops."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise InputError(f"expected (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}")
        h, w = image_rgb.shape[:2]
        if (camera.width, camera.height) != (w, h):
            raise InputError(f"camera info is for {camera.width}x{camera.height} but the image is {w}x{h}")
        detections = self._with_masks(detections, masks, w, h)
        clock = _Stopwatch()
        with clock.stage("detect"):
            found, known_ids = self._detect(image_rgb, detections)
        if self.keypoint_detector is not None and found:
            with clock.stage("keypoints"):
                attach_keypoints(found, self.keypoint_detector.detect(image_rgb))
        with clock.stage("track"):
            update = self.tracker.update(found, known_ids)
        started = StartedFrame(
            stamp_ns, frame_id, camera, w, h, clock, update.tracked[: self.config.max_persons]
        )
        if started.tracked:
            with clock.stage("crop"):
                self._crop(image_rgb, started)
        return started

    def finish(self, started: StartedFrame, outputs: dict[str, torch.Tensor] | None) -> FrameResult:
        """Decoder, SMPL and history for a frame from `begin`, given the network outputs of its crops."""
        persons: list[PersonResult] = []
        if started.crops is not None:
            assert outputs is not None, "a frame with crops needs the network outputs"
            persons = self._estimate(started, outputs)
        with started.clock.stage("history"):
            seen = {p.track_id for p in persons}
            self.history.end_frame(seen)
            self._last = {k: v for k, v in self._last.items() if k in seen}
        self.frame_index += 1
        return FrameResult(
            started.stamp_ns,
            started.frame_id,
            started.width,
            started.height,
            started.camera,
            persons,
            started.clock.ms,
        )

    def _with_masks(
        self, detections: Sequence[Detection] | None, masks: Sequence[np.ndarray] | None, w: int, h: int
    ) -> list[Detection] | None:
        if masks is None:
            return None if detections is None else list(detections)
        if detections is None or len(masks) != len(detections):
            raise InputError("masks must come with detections, one (H, W) mask per detection")
        out = []
        for det, mask in zip(detections, masks, strict=True):
            if mask is not None and mask.shape != (h, w):
                raise InputError(f"a person mask is {mask.shape[::-1]} but the image is {w}x{h}")
            out.append(replace(det, mask=None if mask is None else mask.astype(bool, copy=False)))
        return out

    def _source(self, detections: list[Detection] | None) -> str:
        mode = self.config.detection
        if mode == "auto":
            if detections is not None:
                return "upstream"
            return "onnx" if self.detector is not None else "fixed"
        return mode

    def _detect(
        self, image: np.ndarray, detections: list[Detection] | None
    ) -> tuple[list[Detection], list[int] | None]:
        """This frame's boxes, and their track ids when they were propagated (else None)."""
        cfg = self.config
        h, w = image.shape[:2]
        source = self._source(detections)
        due = self._frames_since_detection is None or self._frames_since_detection + 1 >= cfg.detect_every
        fresh: list[Detection] | None = None
        if source == "upstream":
            fresh = detections  # upstream boxes come when they come; None = none this frame
        elif due or not self._last:
            if source == "onnx":
                assert self.detector is not None
                fresh = self.detector.detect(image)
            else:
                fresh = [fixed_region_detection(cfg.fixed_region, w, h)]
        if fresh is not None:
            self._frames_since_detection = 0
            selected = select_detections(fresh, w, h, cfg.score_threshold, cfg.min_box_size, cfg.max_persons)
            return selected, None
        if self._frames_since_detection is not None:
            self._frames_since_detection += 1
        return self._propagate(w, h)

    def _propagate(self, w: int, h: int) -> tuple[list[Detection], list[int]]:
        """Boxes for every person of the previous frame, from its joints moved by the track velocity."""
        dets, ids = [], []
        for track_id, last in self._last.items():
            track = self.tracker.get(track_id)
            if track is None:
                continue
            moved = last.joints2d + track.velocity[:2]
            margin = self.config.propagate_margin
            det = propagate_detection(last.detection, moved, w, h, last.relation, margin)
            if det is not None and min(det.width, det.height) >= self.config.min_box_size:
                dets.append(det)
                ids.append(track_id)
        return dets, ids

    def _crop(self, image: np.ndarray, started: StartedFrame) -> None:
        est = self.estimator
        dets = started.detections
        h, w = image.shape[:2]
        boxes = np.stack([clip_box(d.bbox, w, h) for d in dets])
        started.crops = est.prepare(image, boxes)
        started.to_crop = _image_to_crop(started.crops)
        if self._mask_tokens:
            mask = self._person_mask(dets, started.track_ids, started.to_crop, started.camera)
            started.model_kwargs["person_mask"] = mask.to(est.device)

    def _estimate(self, started: StartedFrame, outputs: dict[str, torch.Tensor]) -> list[PersonResult]:
        ids, dets, clock = started.track_ids, started.detections, started.clock
        assert started.crops is not None and started.to_crop is not None
        with clock.stage("decoder"):
            histories = [self.history.history(i) for i in ids]
            decoded = self.decoder.decode(
                DecoderInput(
                    track_ids=ids,
                    image_tokens=_as_normal(outputs["image_tokens"]),
                    head_token=_as_normal(outputs["head_token"]),
                    global_orient=_as_normal(outputs["global_orient"]),
                    body_pose=_as_normal(outputs["body_pose"]),
                    betas=_as_normal(outputs["betas"]),
                    pred_cam=_as_normal(outputs["pred_cam"]),
                    histories=histories,
                    keypoints2d=self._crop_keypoints(dets, started.to_crop),
                    stamp_ns=started.stamp_ns,
                    known_track_ids=list(self.history),
                )
            )
        with clock.stage("smpl"):
            persons = self.estimator.to_persons(
                outputs,
                started.crops,
                started.camera,
                scores=[d.score for d in dets],
                track_ids=ids,
                global_orient=decoded.global_orient.detach(),
                body_pose=decoded.body_pose.detach(),
                decoders=decoded.used_decoder,
            )
        with clock.stage("history"):
            self._remember(persons, dets, outputs, started.stamp_ns)
        return persons

    def _person_mask(
        self, dets: list[Detection], ids: list[int], to_crop: np.ndarray, camera: CameraIntrinsics
    ) -> torch.Tensor:
        from fasthmr_ros.merging.masks import CropMaskInput, Silhouette, person_patch_mask

        assert self.merging is not None
        items = []
        for det, track_id, affine in zip(dets, ids, to_crop, strict=True):
            last = self._last.get(track_id)
            silhouette = None
            if self._needs_silhouette and last is not None and last.vertices is not None:
                silhouette = Silhouette(last.vertices, self.faces, camera.matrix())
            items.append(CropMaskInput(affine, det.bbox, det.mask, silhouette))
        mask = person_patch_mask(items, self.merging, self.estimator.model.config.backbone)
        assert mask is not None
        return mask

    @staticmethod
    def _crop_keypoints(dets: list[Detection], to_crop: np.ndarray) -> torch.Tensor | None:
        """COCO-17 pixels -> (B, 17, 3) crop-normalised [-1, 1] x, y and confidence (0 = missing)."""
        if all(d.keypoints is None for d in dets):
            return None
        count = next(d.keypoints.shape[0] for d in dets if d.keypoints is not None)
        out = np.zeros((len(dets), count, 3), dtype=np.float32)
        for i, (det, affine) in enumerate(zip(dets, to_crop, strict=True)):
            if det.keypoints is None or det.keypoints.shape[0] != count:
                continue
            crop_xy = det.keypoints[:, :2] @ affine[:, :2].T + affine[:, 2]
            out[i, :, :2] = crop_xy / (CROP_SIZE / 2) - 1.0
            out[i, :, 2] = det.keypoints[:, 2]
        return torch.from_numpy(out)

    def _remember(
        self,
        persons: list[PersonResult],
        dets: list[Detection],
        outputs: dict[str, torch.Tensor],
        stamp_ns: int,
    ) -> None:
        """Push this frame into the track histories and keep what the next frame builds on."""

        def np32(name: str) -> np.ndarray:
            return outputs[name].detach().float().cpu().numpy()

        head, go, bp = np32("head_token"), np32("global_orient"), np32("body_pose")
        betas, cam = np32("betas"), np32("pred_cam")
        for i, (person, det) in enumerate(zip(persons, dets, strict=True)):
            self.history.push(
                person.track_id,
                TrackFrame(stamp_ns, head[i], go[i, 0], bp[i], betas[i], cam[i], person.joints3d),
            )
            joints2d = person.joints2d.astype(np.float64)
            previous = self._last.get(person.track_id)
            relation = previous.relation if previous is not None else None
            if det.source != "propagated":
                extent = points_extent(joints2d)
                relation = None if extent is None else box_relation(det.bbox, extent)
            vertices = person.vertices if self._needs_silhouette else None
            self._last[person.track_id] = _LastSeen(det, joints2d, vertices, relation)
            if not self.config.output_vertices:
                person.vertices = None


def build_pipeline(
    cfg: PipelineConfig,
    decoder: Any = None,
    merging: MergingConfig | None = None,
    genhmr: Any = None,
) -> Pipeline:
    """Everything from configuration: model (checkpoint, 4D-Humans cache or the embedded default),
    body model, detector, keypoint model and pose decoder.

    `decoder` is a `DecoderConfig` (None: the regression head's pose), `genhmr` a `GenHMRConfig`.
    The returned pipeline's `model_description`/`body_description`/`embedded` say what was used,
    so front ends can warn when the embedded default (stand-in bodies only) runs.
    """
    from fasthmr_ros.models.default import resolve_body_model, resolve_model

    model_src = resolve_model(cfg.checkpoint, device=cfg.device)
    body_src = resolve_body_model(cfg.smpl, cfg.j19)
    estimator = MeshEstimator(model_src.model, body_src.body, device=cfg.device)
    detector = None
    if cfg.detector_model and cfg.detection in ("auto", "onnx"):
        detector = YoloOnnxDetector(
            cfg.detector_model,
            task=cfg.detector_task,
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            person_class_ids=cfg.person_class_ids,
            input_size=cfg.detector_input_size,
            mask_threshold=cfg.mask_threshold,
        )
    keypoints = None
    if cfg.keypoint_model:
        keypoints = YoloOnnxDetector(
            cfg.keypoint_model,
            task="pose",
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            input_size=cfg.detector_input_size,
        )
    pose_decoder: PoseDecoder = RegressionDecoder()
    if decoder is not None:
        from fasthmr_ros.decoders import build_decoder

        pose_decoder = build_decoder(decoder, body_src.body, cfg.device, genhmr)
    pipeline = Pipeline(estimator, cfg, pose_decoder, detector, keypoints, merging)
    pipeline.model_description = model_src.description
    pipeline.body_description = body_src.description
    pipeline.embedded = model_src.embedded or body_src.standin
    return pipeline
