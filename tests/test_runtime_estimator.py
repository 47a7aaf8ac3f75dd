"""A backend runner plugged into the node's estimator gives what the model itself gives."""

from __future__ import annotations

import numpy as np
import torch

from fasthmr_ros.config import MergingConfig, RuntimeConfig
from fasthmr_ros.models.default import embedded_default_model, resolve_body_model
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.result import CameraIntrinsics
from fasthmr_ros.runtime.estimator import RunnerEstimator
from fasthmr_ros.runtime.select import Capabilities, create_runner

NO_GPU = Capabilities(None, None, "TensorRT is not installed", ort_cuda=False)


def test_onnxruntime_runner_in_the_estimator_matches_the_model(tmp_path) -> None:
    model = embedded_default_model()
    model.set_token_merging(MergingConfig())
    base = MeshEstimator(model, resolve_body_model().body)
    runner, choice = create_runner(
        RuntimeConfig(backend="onnxruntime", device="cpu", engine_cache_dir=str(tmp_path)), model, NO_GPU
    )
    assert choice.backend == "onnxruntime"
    estimator = RunnerEstimator(base, runner)
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    batch = base.prepare(image, np.array([[40.0, 20.0, 160.0, 230.0], [150.0, 10.0, 300.0, 235.0]]))
    camera = CameraIntrinsics(fx=300.0, fy=300.0, cx=160.0, cy=120.0, width=320, height=240)
    mask = torch.zeros(2, 192, dtype=torch.bool)
    mask[:, 40:150] = True
    ref = base.infer(batch, camera, person_mask=mask)
    got = estimator.infer(batch, camera, person_mask=mask)
    assert set(got) == set(ref)
    for key in ref:
        assert torch.allclose(got[key], ref[key], atol=1e-3), key
    # A different mask reaches the graph (it is not dropped or taken for bbox_info).
    other = estimator.infer(batch, camera, person_mask=~mask)
    assert not torch.allclose(other["image_tokens"], got["image_tokens"])
