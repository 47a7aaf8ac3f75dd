"""The Pipeline class end to end on the embedded default model (tiny network, stand-in body)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fasthmr_ros.config import PipelineConfig, TrackerConfig
from fasthmr_ros.decoders.base import DecoderInput, DecoderOutput
from fasthmr_ros.errors import FastHMRError, InputError
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import STAGES, Pipeline
from fasthmr_ros.pipeline.detection import Detection, iou_matrix
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.pipeline.yolo import YoloOnnxDetector
from fasthmr_ros.samples.scene import person_boxes, render_person_image, sample_camera, sample_motion
from tests.yolo_onnx_models import build_yolo_onnx

W, H = 640, 480
CAMERA = default_intrinsics(W, H)


@pytest.fixture(autouse=True)
def _one_thread():
    """Many small frames: one torch thread avoids oversubscribing the shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def parts():
    return embedded_default_model(), resolve_body_model().body


def _estimator(parts) -> MeshEstimator:
    model, body = parts
    return MeshEstimator(model, body)


def _frame(boxes: list[np.ndarray]) -> np.ndarray:
    """Grey frame with a bright figure in each box, so crops differ from the background."""
    image = np.full((H, W, 3), 60, np.uint8)
    for b in boxes:
        x1, y1, x2, y2 = np.round(b).astype(int)
        image[max(y1, 0) : y2, max(x1, 0) : x2] = (200, 150, 120)
    return image


class RecordingDecoder:
    """A real PoseDecoder that keeps the regression pose and records what it was given."""

    name = "recording"

    def __init__(self) -> None:
        self.inputs: list[DecoderInput] = []

    def decode(self, batch: DecoderInput) -> DecoderOutput:
        self.inputs.append(batch)
        return DecoderOutput(batch.global_orient, batch.body_pose, ["recording"] * len(batch.track_ids))


def test_upstream_boxes_with_propagation_between_them(parts) -> None:
    decoder = RecordingDecoder()
    pipe = Pipeline(_estimator(parts), PipelineConfig(detection="upstream"), decoder)
    ids, propagated_iou = set(), []
    motion = sample_motion(10, 1, seed=1)  # one stand-in walking, dressed like the training world
    K = sample_camera(W, H)
    camera = CameraIntrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], W, H)
    for f in range(10):
        persons = motion.persons(f)
        truth = person_boxes(W, H, K, persons)[0]
        given = [Detection(truth, 0.9)] if f % 3 == 0 else None  # an upstream detector at 1/3 rate
        image = render_person_image(W, H, K, persons)
        result = pipe.process(image, camera, f * 33_000_000, "cam", detections=given)
        assert len(result.persons) == 1, f
        person = result.persons[0]
        ids.add(person.track_id)
        assert set(result.timings_ms) <= set(STAGES) and "model" in result.timings_ms
        assert result.stamp_ns == f * 33_000_000 and result.frame_id == "cam"
        if given is None:
            propagated_iou.append(iou_matrix(person.bbox, truth)[0, 0])
        else:
            np.testing.assert_allclose(person.bbox, truth, atol=1e-3)
        assert np.all(np.isfinite(person.joints3d)) and person.vertices is None
        assert person.decoder == "recording"
    assert ids == {1}
    # Propagated boxes follow the walker (joint extent + track velocity) without a detector.
    assert np.mean(propagated_iou) > 0.75 and min(propagated_iou) > 0.5, propagated_iou
    # Histories reach the decoder: frame f sees f earlier frames of the track (window 16).
    assert [len(b.histories[0]) for b in decoder.inputs] == list(range(10))
    assert decoder.inputs[-1].histories[0][-1].stamp_ns == 8 * 33_000_000


class CountingDetector(YoloOnnxDetector):
    """The real ONNX detector, counting its runs."""

    runs = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.runs += 1
        return super().detect(image)


def _detector(tmp_path: Path) -> CountingDetector:
    # One person anchor at input (320, 320, 120, 280): 640x480 -> scale 1, 80 px bands top/bottom.
    boxes = np.array([[320.0, 320.0, 120.0, 280.0]])
    path = build_yolo_onnx(tmp_path / "det.onnx", boxes, np.array([[0.9]]))
    return CountingDetector(path, score_threshold=0.5)


def test_onnx_detector_every_n_frames(parts, tmp_path: Path) -> None:
    detector = _detector(tmp_path)
    pipe = Pipeline(_estimator(parts), PipelineConfig(detection="onnx", detect_every=3), detector=detector)
    expected = np.array([260.0, 100.0, 380.0, 380.0])
    for f in range(7):
        result = pipe.process(_frame([expected]), CAMERA, f, "cam")
        assert [p.track_id for p in result.persons] == [1]
        assert iou_matrix(result.persons[0].bbox, expected)[0, 0] > 0.8
    assert detector.runs == 3  # frames 0, 3, 6


def test_detector_runs_every_frame_while_nobody_is_seen(parts, tmp_path: Path) -> None:
    detector = _detector(tmp_path)
    pipe = Pipeline(_estimator(parts), PipelineConfig(detection="onnx", detect_every=5), detector=detector)
    black = np.zeros((H, W, 3), np.uint8)  # the tiny detector's scores drop below threshold
    for f in range(4):
        assert pipe.process(black, CAMERA, f, "cam").persons == []
    assert detector.runs == 4


def test_fixed_region_and_vertices(parts) -> None:
    cfg = PipelineConfig(detection="fixed", fixed_region=[0.25, 0.1, 0.75, 0.9], output_vertices=True)
    pipe = Pipeline(_estimator(parts), cfg)
    result = pipe.process(_frame([]), CAMERA, 0, "cam")
    (person,) = result.persons
    np.testing.assert_allclose(person.bbox, [160, 48, 480, 432])
    assert person.vertices is not None and person.vertices.shape == (6890, 3)
    assert pipe.faces.shape == (13776, 3)


def test_two_people_crossing_keep_their_ids(parts) -> None:
    pipe = Pipeline(_estimator(parts), PipelineConfig(tracker=TrackerConfig(iou_threshold=0.2)))
    ids: dict[str, set[int]] = {"A": set(), "B": set()}
    for f in range(40):
        people = {
            "A": np.array([40 + 13 * f, 100, 130 + 13 * f, 380.0]),
            "B": np.array([520 - 13 * f, 110, 600 - 13 * f, 370.0]),
        }
        if 18 <= f <= 21:
            del people["B"]  # hidden behind A
        result = pipe.process(
            _frame(list(people.values())), CAMERA, f, "cam", [Detection(b) for b in people.values()]
        )
        for p in result.persons:
            name = min(people, key=lambda n: np.abs(people[n] - p.bbox).sum())
            ids[name].add(p.track_id)
    assert len(ids["A"]) == 1 and len(ids["B"]) == 1 and ids["A"] != ids["B"], ids


def test_histories_are_evicted_with_their_tracks(parts) -> None:
    cfg = PipelineConfig(history_window=4, tracker=TrackerConfig(max_age=2))
    pipe = Pipeline(_estimator(parts), cfg)
    box = np.array([100, 100, 200, 400.0])
    for f in range(6):
        pipe.process(_frame([box]), CAMERA, f, "cam", [Detection(box)])
    assert len(pipe.history.history(1)) == 4  # bounded by the window
    for f in range(6, 9):
        assert pipe.process(_frame([]), CAMERA, f, "cam", []).persons == []
    assert 1 not in pipe.history and pipe.tracker.tracks == []


def test_keypoints_reach_the_decoder_in_crop_coordinates(parts) -> None:
    decoder = RecordingDecoder()
    pipe = Pipeline(_estimator(parts), PipelineConfig(), decoder)
    box = np.array([100, 100, 200, 400.0])  # hmr2 crop: centre (150, 250), side 300
    kpts = np.zeros((17, 3))
    kpts[:, 0], kpts[:, 1], kpts[:, 2] = 150, 250, 0.8
    kpts[1, :2] = (300, 100)  # a corner of the crop square
    pipe.process(_frame([box]), CAMERA, 0, "cam", [Detection(box, keypoints=kpts), Detection(box + 300)])
    k2d = decoder.inputs[0].keypoints2d
    assert k2d is not None and k2d.shape == (2, 17, 3)
    np.testing.assert_allclose(k2d[0, 0].numpy(), [0, 0, 0.8], atol=1e-5)
    np.testing.assert_allclose(k2d[0, 1, :2].numpy(), [1, -1], atol=1e-5)
    assert float(k2d[1, :, 2].abs().sum()) == 0  # no keypoints for the second person


def test_bad_frames_are_rejected_without_changing_state(parts) -> None:
    pipe = Pipeline(_estimator(parts), PipelineConfig())
    box = np.array([100, 100, 200, 400.0])
    pipe.process(_frame([box]), CAMERA, 0, "cam", [Detection(box)])
    with pytest.raises(InputError, match="camera info is for 640x480"):
        pipe.process(np.zeros((240, 320, 3), np.uint8), CAMERA, 1, "cam")
    with pytest.raises(InputError, match="masks must come with detections"):
        pipe.process(_frame([box]), CAMERA, 1, "cam", masks=[np.zeros((H, W), bool)])
    with pytest.raises(InputError, match="uint8"):
        pipe.process(np.zeros((H, W, 3), np.float32), CAMERA, 1, "cam")
    assert pipe.frame_index == 1 and len(pipe.history.history(1)) == 1
    with pytest.raises(FastHMRError, match="needs a detector"):
        Pipeline(_estimator(parts), PipelineConfig(detection="onnx"))


def test_upstream_masks_are_kept_per_detection(parts) -> None:
    pipe = Pipeline(_estimator(parts), PipelineConfig())
    box = np.array([100, 100, 200, 400.0])
    mask = np.zeros((H, W), bool)
    mask[150:350, 120:180] = True
    pipe.process(_frame([box]), CAMERA, 0, "cam", [Detection(box)], masks=[mask])
    (track,) = pipe.tracker.tracks
    assert track.detection.mask is not None and track.detection.mask.sum() == mask.sum()


def test_token_merging_with_person_masks(parts) -> None:
    from fasthmr_ros.config import MergingConfig

    box = np.array([100, 60, 260, 420.0])
    small = np.zeros((H, W), bool)
    small[200:260, 160:200] = True  # a person mask much smaller than the box

    def run(mask_source: str, masks) -> tuple[RecordingDecoder, list]:
        decoder = RecordingDecoder()
        merging = MergingConfig(mask_source=mask_source)
        pipe = Pipeline(_estimator(parts), PipelineConfig(), decoder, merging=merging)
        results = [pipe.process(_frame([box]), CAMERA, f, "cam", [Detection(box)], masks) for f in range(2)]
        return decoder, results

    decoder, by_box = run("box", None)
    assert decoder.inputs[0].image_tokens.shape[1] == 90  # 192 -> 152 -> 112 -> 90
    _, by_mask = run("segmentation", [small])
    # Protecting other patches changes which tokens merge, hence the estimate.
    assert not np.allclose(by_box[0].persons[0].body_pose, by_mask[0].persons[0].body_pose)
    # auto without segmentation: frame 2 uses frame 1's silhouette (vertices kept internally only).
    _, auto = run("auto", None)
    np.testing.assert_allclose(auto[0].persons[0].body_pose, by_box[0].persons[0].body_pose, atol=1e-6)
    assert not np.allclose(auto[1].persons[0].body_pose, by_box[1].persons[0].body_pose)
    assert all(p.vertices is None for r in auto for p in r.persons)


def test_build_pipeline_from_config(tmp_path: Path) -> None:
    from fasthmr_ros.config import DecoderConfig
    from fasthmr_ros.decoders.base import RegressionDecoder
    from fasthmr_ros.errors import MissingFileError
    from fasthmr_ros.pipeline.core import build_pipeline

    boxes = np.array([[320.0, 320.0, 120.0, 280.0]])
    detector_path = build_yolo_onnx(tmp_path / "det.onnx", boxes, np.array([[0.9]]))
    cfg = PipelineConfig(detector_model=str(detector_path))
    pipe = build_pipeline(cfg, DecoderConfig(decoder="regression"))
    assert pipe.embedded and "embedded" in pipe.model_description
    assert isinstance(pipe.decoder, RegressionDecoder) and pipe.detector is not None
    result = pipe.process(_frame([]), CAMERA, 0, "cam")  # auto: no upstream boxes -> the ONNX detector
    assert len(result.persons) == 1 and result.persons[0].joint_set == "hmr2_44"
    with pytest.raises(MissingFileError, match="diffusion"):
        build_pipeline(PipelineConfig(), DecoderConfig(decoder="diffusion"))
    with pytest.raises(MissingFileError):
        build_pipeline(PipelineConfig(detector_model=str(tmp_path / "nope.onnx")))


def test_keypoint_model_feeds_the_decoder(parts, tmp_path: Path) -> None:
    # One pose person at input (150, 330, 100, 300) = image box (100, 100, 200, 400) (80 px bands).
    kpts = np.zeros((1, 17, 3))
    kpts[0, :, 0], kpts[0, :, 1], kpts[0, :, 2] = 150.0, 330.0, 0.9  # image (150, 250): crop centre
    path = build_yolo_onnx(
        tmp_path / "pose.onnx",
        np.array([[150.0, 330.0, 100.0, 300.0]]),
        np.array([[0.9]]),
        kpts.reshape(1, -1),
        task_metadata="pose",
    )
    keypoints = YoloOnnxDetector(path, score_threshold=0.5)
    decoder = RecordingDecoder()
    pipe = Pipeline(_estimator(parts), PipelineConfig(), decoder, keypoint_detector=keypoints)
    box = np.array([98, 104, 203, 397.0])  # an upstream box for the same person
    result = pipe.process(_frame([box]), CAMERA, 0, "cam", [Detection(box)])
    assert "keypoints" in result.timings_ms
    k2d = decoder.inputs[0].keypoints2d
    assert k2d is not None and k2d.shape == (1, 17, 3)
    assert float(k2d[0, :, :2].abs().max()) < 0.03  # near the crop centre
    np.testing.assert_allclose(k2d[0, :, 2].numpy(), 0.9, atol=1e-6)


def test_segment_detector_masks_guide_token_merging(parts, tmp_path: Path) -> None:
    from fasthmr_ros.config import MergingConfig

    protos = np.full((32, 160, 160), -10.0)
    protos[0, 40:70, 70:90] = 10.0  # input rows 160..280, cols 280..360 = image rows 80..200
    coeffs = np.zeros((1, 32))
    coeffs[0, 0] = 1.0
    path = build_yolo_onnx(
        tmp_path / "seg.onnx", np.array([[320.0, 320.0, 120.0, 280.0]]), np.array([[0.9]]), coeffs, protos
    )
    box = np.array([260.0, 100.0, 380.0, 380.0])

    def first_pose(mask_source: str) -> np.ndarray:
        detector = YoloOnnxDetector(path, score_threshold=0.5)
        merging = MergingConfig(mask_source=mask_source)
        pipe = Pipeline(_estimator(parts), PipelineConfig(), detector=detector, merging=merging)
        (person,) = pipe.process(_frame([box]), CAMERA, 0, "cam").persons
        (track,) = pipe.tracker.tracks
        mask = track.detection.mask  # the blob cut to the box: rows 100..200, cols 280..360
        assert mask is not None and mask[100:199, 280:359].all() and 7900 < mask.sum() <= 8000
        return person.body_pose

    assert not np.allclose(first_pose("segmentation"), first_pose("box"))


def test_history_holds_what_a_temporal_decoder_reads(parts) -> None:
    class LongWindowDecoder:
        name = "long"
        history_frames = 242  # the paper's 243-frame window minus the current frame

        def decode(self, batch: DecoderInput) -> DecoderOutput:
            return DecoderOutput(batch.global_orient, batch.body_pose, ["long"] * len(batch.track_ids))

    cfg = PipelineConfig(history_window=16)
    assert Pipeline(_estimator(parts), cfg, decoder=LongWindowDecoder()).history.window == 242
    assert Pipeline(_estimator(parts), cfg).history.window == 16
