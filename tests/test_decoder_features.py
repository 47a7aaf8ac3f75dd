"""Decoder training features and 2D keypoints from a labelled set, through the evaluation pipeline.

The features must be exactly what the pipeline computes for each labelled person (else a decoder
learns from inputs it never sees at run time), and the keypoints must be the labelled bodies'
COCO-17 points, so that the stated noise is the only error GenHMR's refinement is fed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fasthmr_ros.config import DecoderConfig, GenHMRConfig, GenHMRTransformerConfig
from fasthmr_ros.decoders.genhmr.checkpoint import save_genhmr
from fasthmr_ros.decoders.genhmr.masked_transformer import MaskedPoseTransformer
from fasthmr_ros.decoders.genhmr.tokenizer import PoseTokenizer
from fasthmr_ros.evaluation import evaluation_pipeline, run_pipeline
from fasthmr_ros.evaluation.features import extract_features
from fasthmr_ros.evaluation.keypoints import noisy_keypoints, true_keypoints
from fasthmr_ros.samples.dataset import usable_persons
from fasthmr_ros.samples.synth import write_synth_set
from tests.genhmr_fixtures import TINY_TOKENIZER

# COCO-17 points that are SMPL kinematic joints: shoulders, elbows, wrists, knees, ankles.
COCO_TO_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 13: 4, 14: 5, 15: 7, 16: 8}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("features") / "set"
    return write_synth_set(root, images=2, clips=1, frames=4, seed=4242, progress=False)


def test_features_are_the_pipelines_outputs_beside_the_labels(labelled) -> None:
    sequences = extract_features(evaluation_pipeline(), labelled, image_tokens=True, progress=False)
    estimates = run_pipeline(evaluation_pipeline(), labelled, progress=False)
    decoded = dict(zip(estimates.rows, estimates.body_pose, strict=True))
    clip_rows = [r for r in usable_persons(labelled) if labelled.clip[labelled.image_index[r]] >= 0]
    still_rows = [r for r in usable_persons(labelled) if labelled.clip[labelled.image_index[r]] < 0]
    stills = [s for s in sequences if s.name.startswith("still")]
    clips = [s for s in sequences if s.name.startswith("clip")]
    assert len(stills) == len(still_rows) and all(len(s) == 1 for s in stills)
    assert sum(len(s) for s in clips) == len(clip_rows) and all(len(s) >= 2 for s in clips)
    for seq in stills:
        row = int(seq.name.rsplit("_", 1)[1])
        np.testing.assert_allclose(seq.body_pose[0], labelled.body_pose[row], atol=1e-6)
        np.testing.assert_allclose(seq.pred_body_pose[0], decoded[row], atol=1e-5)
        assert seq.image_tokens is not None and seq.image_tokens.shape[1:] == (192, 96)
    for seq in clips:
        track = int(seq.name.split("track")[1][:3])
        rows = [r for r in clip_rows if labelled.track_id[r] == track]
        rows.sort(key=lambda r: labelled.frame[labelled.image_index[r]])
        np.testing.assert_allclose(seq.body_pose, labelled.body_pose[rows], atol=1e-6)
        np.testing.assert_allclose(seq.pred_body_pose, np.stack([decoded[r] for r in rows]), atol=1e-5)


def test_keypoints_are_the_labelled_joints_plus_the_stated_noise(labelled) -> None:
    body = evaluation_pipeline().estimator.body
    exact = true_keypoints(labelled, body)
    for coco, smpl in COCO_TO_SMPL.items():
        np.testing.assert_allclose(exact[:, coco], labelled.joints_2d[:, smpl], atol=1e-2)
    noisy = noisy_keypoints(labelled, body, 0.05, seed=1)
    height = labelled.boxes[:, 3] - labelled.boxes[:, 1]
    spread = ((noisy[..., :2] - exact) / height[:, None, None]).std()
    assert 0.04 < spread < 0.06
    assert np.all(noisy[..., 2] == 1.0)


def test_eval_hands_the_keypoints_to_genhmrs_refinement(labelled, tmp_path) -> None:
    from fasthmr_ros.cli.main import main

    torch.manual_seed(0)
    transformer_cfg = GenHMRTransformerConfig(
        dim=32, depth=1, heads=2, mlp_dim=64, dropout=0.0, context_dim=96, head_token_dim=0
    )
    tokenizer = PoseTokenizer(TINY_TOKENIZER).eval()
    transformer = MaskedPoseTransformer(
        transformer_cfg, TINY_TOKENIZER.num_tokens, TINY_TOKENIZER.codebook_size
    )
    checkpoint = tmp_path / "genhmr.pt"
    save_genhmr(checkpoint, tokenizer, transformer)
    decoder = DecoderConfig(decoder="genhmr", genhmr_model=str(checkpoint))
    pipeline = evaluation_pipeline(decoder=decoder, genhmr=GenHMRConfig())
    keypoints = noisy_keypoints(labelled, pipeline.estimator.body, 0.03)
    run_pipeline(pipeline, labelled, limit=1, progress=False)
    assert pipeline.decoder.last_refinement is None  # no keypoints, nothing to refine against
    run_pipeline(pipeline, labelled, limit=1, progress=False, keypoints=keypoints)
    assert pipeline.decoder.last_refinement is not None

    out = tmp_path / "report.json"
    args = ["eval", str(labelled.root), "--decoder", "genhmr", "--decoder-model", str(checkpoint)]
    assert main([*args, "--keypoints-noise", "0.03", "--limit", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["keypoints_noise"] == 0.03 and report["genhmr"]["iterations"] == 5
