"""Several cameras through one model: one forward pass, the same results as each camera alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fasthmr_ros.config import PipelineConfig
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.pipeline.camera import default_intrinsics
from fasthmr_ros.pipeline.core import Pipeline
from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.multi_camera import CameraFrame, process_cameras

W, H = 320, 240


@pytest.fixture(scope="module")
def estimator() -> MeshEstimator:
    torch.set_num_threads(1)
    return MeshEstimator(embedded_default_model(), resolve_body_model().body)


def scene(camera: int, f: int) -> tuple[np.ndarray, list[Detection]]:
    """Camera `camera` sees camera + 1 people walking; each a bright box."""
    image = np.full((H, W, 3), 50, np.uint8)
    dets = []
    for person in range(camera + 1):
        x = 20 + 90 * person + 4 * f
        box = np.array([x, 40, x + 60, 220], np.float64)
        image[40:220, x : x + 60] = (180 + 20 * person, 140, 100 + 30 * camera)
        dets.append(Detection(box, 0.9))
    return image, dets


def frames(f: int, cameras: int) -> list[CameraFrame]:
    out = []
    for c in range(cameras):
        image, dets = scene(c, f)
        out.append(CameraFrame(image, default_intrinsics(W, H), 1000 * f + c, f"cam{c}_optical", dets))
    return out


def test_batched_cameras_match_each_camera_alone_with_one_forward_per_step(estimator: MeshEstimator) -> None:
    cfg = PipelineConfig(detection="upstream")
    batched = [Pipeline(estimator, cfg) for _ in range(3)]
    alone = [Pipeline(estimator, cfg) for _ in range(3)]
    calls: list[int] = []
    hook = estimator.model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    try:
        for f in range(3):
            together = process_cameras(batched, frames(f, 3))
            assert calls[-1] == 1 + 2 + 3  # every camera's crops in one forward
            calls.clear()
            for c, frame in enumerate(frames(f, 3)):
                single = alone[c].process(
                    frame.image_rgb, frame.camera, frame.stamp_ns, frame.frame_id, frame.detections
                )
                result = together[c]
                assert not isinstance(result, Exception) and result is not None
                assert (result.stamp_ns, result.frame_id) == (frame.stamp_ns, frame.frame_id)
                assert [p.track_id for p in result.persons] == [p.track_id for p in single.persons]
                for a, b in zip(result.persons, single.persons, strict=True):
                    np.testing.assert_allclose(a.joints3d, b.joints3d, atol=1e-4)
                    np.testing.assert_allclose(a.joints2d, b.joints2d, atol=1e-2)
                    np.testing.assert_array_equal(a.bbox, b.bbox)
    finally:
        hook.remove()
    # Tracks are per camera: each camera numbers its own people from the start.
    assert [sorted(p.track_id for p in r.persons) for r in together] == [[1], [1, 2], [1, 2, 3]]


def test_a_bad_frame_or_an_idle_camera_does_not_cost_the_others(estimator: MeshEstimator) -> None:
    pipes = [Pipeline(estimator, PipelineConfig(detection="upstream")) for _ in range(3)]
    good = frames(0, 2)
    broken = CameraFrame(np.zeros((10, 10), np.uint8), default_intrinsics(W, H), 5, "cam2_optical")
    results = process_cameras(pipes, [good[0], None, broken])
    assert len(results[0].persons) == 1  # type: ignore[union-attr]
    assert results[1] is None
    assert isinstance(results[2], InputError)


def test_camera_list_parsing_and_refusals() -> None:
    from fasthmr_ros.config import NodeConfig
    from fasthmr_ros.errors import FastHMRError
    from fasthmr_ros.ros.cameras import camera_inputs
    from fasthmr_ros.ros.node_params import ParameterError, check_config

    (single,) = camera_inputs(NodeConfig())
    assert (single.name, single.image_topic, single.output("fasthmr/humans")) == (
        "",
        "/camera/image_raw",
        "fasthmr/humans",
    )
    front, rear = camera_inputs(NodeConfig(cameras="/robot/front, /rear/color/image:/rear/color/info"))
    assert (front.name, front.image_topic, front.camera_info_topic) == (
        "front",
        "/robot/front/image_raw",
        "/robot/front/camera_info",
    )
    assert (rear.name, rear.image_topic, rear.camera_info_topic) == (
        "color",
        "/rear/color/image",
        "/rear/color/info",
    )
    assert rear.output("fasthmr/humans") == "fasthmr/humans/color"
    with pytest.raises(FastHMRError, match="distinct names"):
        camera_inputs(NodeConfig(cameras="/a/cam /b/cam"))
    with pytest.raises(ParameterError, match="detections_topic works with one camera"):
        check_config(NodeConfig(cameras="/front /left", detections_topic="/boxes"))
