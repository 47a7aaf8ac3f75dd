"""GenHMR end to end: the CLI trainers, the decoder on their checkpoint, its cost."""

import numpy as np
import pytest
import torch

from fasthmr_ros.bench.decoders import genhmr_cost as measure_cost
from fasthmr_ros.cli.main import main
from fasthmr_ros.config import DecoderConfig, GenHMRConfig, GenHMRRefinementConfig, genhmr_preset
from fasthmr_ros.decoders import build_decoder
from fasthmr_ros.decoders.base import DecoderInput, DecoderOutput
from fasthmr_ros.decoders.data import synthetic_sequences, write_feature_sequence
from fasthmr_ros.decoders.genhmr.checkpoint import load_genhmr
from fasthmr_ros.decoders.genhmr.decoder import GenHMRDecoder
from fasthmr_ros.decoders.genhmr.keypoints import coco17_joint_index, project_to_crop
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """The two CLI trainers, CI-sized, on synthetic data."""
    out = tmp_path_factory.mktemp("genhmr")
    tok = out / "tok.pt"
    args = [
        "--synthetic",
        "3",
        "--frames",
        "40",
        "--preset",
        "tiny",
        "--batch-size",
        "32",
        "--eval-every",
        "20",
    ]
    assert main(["train-tokenizer", *args, "--steps", "20", "--out", str(tok)]) == 0
    model = out / "genhmr.pt"
    assert main(["train-genhmr", "--tokenizer", str(tok), *args, "--steps", "20", "--out", str(model)]) == 0
    return model


def test_cli_checkpoint_loads_with_its_config(trained_checkpoint):
    tokenizer, transformer, data = load_genhmr(trained_checkpoint)
    assert tokenizer.cfg == genhmr_preset("tiny").tokenizer
    assert transformer.cfg.context_dim == 64 and transformer.cfg.head_token_dim == 32
    assert {"token_accuracy", "mpjpe_mm"} <= set(data["metrics"])


def test_cli_errors_are_clear(tmp_path, capsys):
    seq = synthetic_sequences(1, 10, feature_dim=8)[0]
    write_feature_sequence(tmp_path / "a.npz", seq)
    write_feature_sequence(tmp_path / "b.npz", seq)
    tok = tmp_path / "missing_tok.pt"
    assert main(["train-genhmr", "--tokenizer", str(tok), "--sequences", str(tmp_path), "--out", "x.pt"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train-tokenizer", "--out", str(tmp_path / "t.pt")]) == 2
    assert "--motion" in capsys.readouterr().err


def _decoder_input(decoder, batch, keypoints=None):
    g = torch.Generator().manual_seed(3)
    cfg = decoder.transformer.cfg
    return DecoderInput(
        track_ids=list(range(batch)),
        image_tokens=torch.randn(batch, 7, cfg.context_dim, generator=g),
        head_token=torch.randn(batch, cfg.head_token_dim, generator=g),
        global_orient=torch.eye(3).expand(batch, 1, 3, 3).clone(),
        body_pose=torch.eye(3).expand(batch, 23, 3, 3).clone(),
        betas=torch.zeros(batch, 10),
        pred_cam=torch.tensor([[0.9, 0.0, 0.1]]).expand(batch, 3).clone(),
        histories=[[] for _ in range(batch)],
        keypoints2d=keypoints,
    )


def test_decoder_samples_and_refines(trained_checkpoint):
    assets = ensure_standin_assets()
    body_model = BodyModel(assets.smpl, assets.j19)
    refinement = GenHMRRefinementConfig(steps=5, time_budget_ms=0)
    decoder = build_decoder(
        DecoderConfig(decoder="genhmr", genhmr_model=str(trained_checkpoint)),
        body_model,
        "cpu",
        GenHMRConfig(refinement=refinement),
    )
    assert isinstance(decoder, GenHMRDecoder)
    batch = _decoder_input(decoder, 2)
    plain = decoder.decode(batch)
    assert plain.used_decoder == ["genhmr", "genhmr"] and decoder.last_refinement is None
    assert plain.body_pose.shape == (2, 23, 3, 3) and plain.global_orient.shape == (2, 1, 3, 3)
    assert torch.equal(decoder.decode(batch).body_pose, plain.body_pose)  # argmax mode: reproducible
    # Keypoints from a different pose: refinement must move towards them.
    with torch.no_grad():
        other = body_model(plain.global_orient, torch.eye(3).expand(2, 23, 3, 3), batch.betas)
        xy = project_to_crop(other.joints[:, coco17_joint_index(body_model.joint_set)], batch.pred_cam)
    with torch.inference_mode():  # the pipeline's model outputs are inference tensors
        kp = torch.cat([xy, torch.ones(2, 17, 1)], -1)
    refined = decoder.decode(_decoder_input(decoder, 2, kp))
    result = decoder.last_refinement
    assert result is not None and result.steps_done == 5
    assert (result.reprojection_after_px < result.reprojection_before_px).all()

    def distance_to_keypoints(out: DecoderOutput) -> torch.Tensor:
        """Mean 2D distance (crop units) of the decoded pose's projected joints to the keypoints."""
        with torch.no_grad():
            body = body_model(out.global_orient, out.body_pose, batch.betas)
            joints = body.joints[:, coco17_joint_index(body_model.joint_set)]
            return (project_to_crop(joints, batch.pred_cam) - xy).norm(dim=-1).mean(dim=-1)

    # Measured here, not taken from the decoder's own report: the returned pose fits the keypoints better.
    assert (distance_to_keypoints(refined) < 0.95 * distance_to_keypoints(plain)).all()
    wrong_width = _decoder_input(decoder, 1)
    wrong_width.image_tokens = torch.randn(1, 7, 5)
    with pytest.raises(InputError, match="backbone tokens"):
        decoder.decode(wrong_width)


def test_measure_cost_reports_both_stages_separately():
    cfg = genhmr_preset("tiny")
    cfg.transformer.context_dim, cfg.transformer.head_token_dim = 32, 16
    cfg.refinement.steps, cfg.sampling.iterations = 1, 2
    short = measure_cost(repeats=1, cfg=cfg, num_image_tokens=20)
    cfg.refinement.steps, cfg.sampling.iterations = 3, 5
    long = measure_cost(repeats=1, cfg=cfg, num_image_tokens=20)
    for report in (short, long):
        for stage in ("sampling", "refinement"):
            assert report[stage]["latency_ms_per_frame"] > 0 and report[stage]["gmacs_per_frame"] > 0
    # Sampling: T predictions + one final pass (6 vs 3); refinement: steps forward+backward + one forward.
    sampling_ratio = long["sampling"]["gmacs_per_frame"] / short["sampling"]["gmacs_per_frame"]
    assert sampling_ratio == pytest.approx(2.0, rel=0.05)
    ratio = long["refinement"]["gmacs_per_frame"] / short["refinement"]["gmacs_per_frame"]
    assert 1.7 < ratio < 2.6  # 4 forward + 3 backward vs 2 forward + 1 backward
    assert np.isfinite(long["params"]["transformer"])
