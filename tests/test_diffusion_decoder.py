"""FastHMR's temporal diffusion decoder: representation + IK, schedule, models, training, streaming."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.spatial.transform import Rotation

from fasthmr_ros.bench.decoders import diffusion_cost as measure_cost
from fasthmr_ros.cli.bag import add_arguments as add_bag_arguments
from fasthmr_ros.cli.bag import decoder_config as bag_decoder_config
from fasthmr_ros.config import DecoderConfig, diffusion_preset
from fasthmr_ros.decoders import build_decoder
from fasthmr_ros.decoders.base import DecoderInput, RegressionDecoder
from fasthmr_ros.decoders.data import synthetic_clips, synthetic_sequences
from fasthmr_ros.decoders.diffusion import twist_swing as ts
from fasthmr_ros.decoders.diffusion.decoder import DiffusionDecoder, sample_frame, stretch_to_window
from fasthmr_ros.decoders.diffusion.evaluate import evaluate
from fasthmr_ros.decoders.diffusion.model import load_diffusion_model, load_vae
from fasthmr_ros.decoders.diffusion.schedule import VSchedule
from fasthmr_ros.decoders.diffusion.training import TrainSettings, train_denoiser, train_vae
from fasthmr_ros.decoders.history import TrackFrame
from fasthmr_ros.errors import CheckpointError, FastHMRError, InputError, MissingFileError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets


@pytest.fixture(scope="module")
def body_model(tmp_path_factory: pytest.TempPathFactory) -> BodyModel:
    return BodyModel(ensure_standin_assets(tmp_path_factory.mktemp("standin")).smpl)


def _random_pose(count: int, seed: int, scale: float = 0.6) -> torch.Tensor:
    """(count, 24, 3, 3) SMPL-like poses: any root, joints within `scale` rad of rest."""
    rng = np.random.default_rng(seed)
    rotvec = rng.normal(scale=scale / np.sqrt(3), size=(count, 24, 3))
    rotvec[:, 0] = Rotation.random(count, random_state=seed).as_rotvec()
    return torch.as_tensor(
        Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix(), dtype=torch.float32
    ).reshape(count, 24, 3, 3)


def test_smpl_forward_representation_ik_round_trip_is_exact(body_model):
    rot = _random_pose(64, seed=1)
    betas = torch.as_tensor(np.random.default_rng(2).normal(size=(64, 10)), dtype=torch.float32)
    out = body_model(rot[:, :1], rot[:, 1:], betas)  # real smplx forward
    rest = ts.rest_skeleton(body_model, betas)
    rep = ts.pose_to_representation(rot, rest)
    assert rep.shape == (64, ts.REPR_DIM) == (64, 133)
    points, twist = ts.split_representation(rep)
    # The representation's SMPL joints are smplx's joints (root-relative).
    smplx_rel = out.smpl_joints - out.smpl_joints[:, :1]
    assert torch.allclose(points[:, :24], smplx_rel, atol=1e-5)
    points = points.clone()
    points[:, :24] = smplx_rel  # IK from smplx's own joints
    back = ts.inverse_kinematics(points, twist, rest)
    assert (back - rot).abs().max() < 1e-4


def test_ik_ignores_bone_length_and_uses_twist(body_model):
    rot = _random_pose(8, seed=3)
    rest = ts.rest_skeleton(body_model, torch.zeros(8, 10))
    points, twist = ts.split_representation(ts.pose_to_representation(rot, rest))
    # Scaling every bone leaves directions unchanged: same rotations.
    assert (ts.inverse_kinematics(points * 1.3, twist * 2.0, rest) - rot).abs().max() < 1e-4
    # A different twist changes the rotation about the bone, not the bone.
    turned = ts.inverse_kinematics(points, torch.roll(twist, 1, dims=-1), rest)
    assert (turned - rot).abs().max() > 0.1
    turned_points, _ = ts.forward_kinematics(turned, rest)
    moved = (turned_points - turned_points[:, :1] - points).norm(dim=-1)
    assert moved[:, :24].max() < 1e-4  # SMPL joints where they were


def test_schedule_zero_terminal_snr_and_v_algebra():
    sched = VSchedule(1000, 0.00085, 0.012)
    ab = sched.alphas_cumprod
    assert ab[-1] == 0 and 0.99 < ab[0] < 1 and torch.all(ab[1:] < ab[:-1])
    x0, noise = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    t = torch.tensor([0, 10, 500, 999])
    x_t = sched.add_noise(x0, noise, t)
    x0_back, eps_back = sched.split_v(x_t, sched.velocity(x0, noise, t), t)
    assert torch.allclose(x0_back, x0, atol=1e-5) and torch.allclose(eps_back, noise, atol=1e-5)
    assert sched.loss(sched.velocity(x0, noise, t), x0, noise, x_t, t) < 1e-9
    # With an oracle v (the v that points from x_t to `target`), DDIM lands on target in 1 or k steps.
    target = torch.randn(2, 3, 5)

    def oracle(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        a = sched.alphas_cumprod[tt].float().sqrt().reshape(-1, 1, 1)
        s = (1 - sched.alphas_cumprod[tt]).float().sqrt().reshape(-1, 1, 1)
        return sched.velocity(target, (x - a * target) / s, tt)

    for steps in (1, 4):
        assert torch.allclose(sched.sample(oracle, torch.randn(2, 3, 5), steps), target, atol=1e-4)


def test_stretch_to_window_resamples_short_histories():
    frames = np.arange(5, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    window, where = stretch_to_window(frames, 9)
    np.testing.assert_allclose(window[:, 0], np.linspace(0, 4, 9))
    np.testing.assert_allclose(where, [0, 2, 4, 6, 8])
    long, where_long = stretch_to_window(np.arange(12.0)[:, None], 9)
    np.testing.assert_allclose(long[:, 0], np.arange(3, 12))
    assert where_long[-1] == 8 and where_long[3] == 0
    motion = torch.arange(9.0)[None, :, None]
    assert sample_frame(motion, torch.tensor([2.5]))[0, 0] == 2.5


@pytest.fixture(scope="module")
def trained(tmp_path_factory, body_model):
    """A tiny decoder trained for a few steps through the real training loops."""
    folder = tmp_path_factory.mktemp("diffusion")
    cfg = diffusion_preset("tiny")
    settings = TrainSettings(steps=12, batch_size=8, save_every=5)
    train_vae(cfg, synthetic_clips(4, 40, seed=0), body_model, folder / "vae.pt", settings)
    sequences = synthetic_sequences(4, 40, feature_dim=cfg.feature_dim, seed=1)
    train_denoiser(folder / "vae.pt", sequences, folder / "decoder.pt", settings)
    return folder, sequences


def test_training_writes_checkpoints_and_resumes(trained, body_model):
    folder, sequences = trained
    vae, payload = load_vae(folder / "vae.pt")
    assert payload["step"] == 12 and payload["config"].preset == "tiny"
    assert vae.latent_scale.item() != 1.0 and torch.all(vae.rep_std >= 1e-2)
    # The representation's skeleton (the body model's mean shape) ships with the model.
    assert torch.allclose(vae.skeleton, ts.rest_skeleton(body_model, torch.zeros(1, 10))[0])
    before, _ = load_diffusion_model(folder / "decoder.pt")
    settings = TrainSettings(steps=15, batch_size=8, save_every=100)
    train_denoiser(folder / "vae.pt", sequences, folder / "decoder.pt", settings, resume=True)
    after, payload = load_diffusion_model(folder / "decoder.pt")
    assert payload["step"] == 15
    moved = [
        not torch.equal(a, b)
        for a, b in zip(before.denoiser.parameters(), after.denoiser.parameters(), strict=False)
    ]
    assert any(moved)
    assert all(
        torch.equal(a, b) for a, b in zip(before.vae.parameters(), after.vae.parameters(), strict=False)
    )
    with pytest.raises(CheckpointError, match="expected a diffusion_decoder"):
        load_diffusion_model(folder / "vae.pt")


def _frame_input(seq, t, history, track_id=3):
    return DecoderInput(
        track_ids=[track_id],
        image_tokens=torch.zeros(1, 2, 4),
        head_token=torch.as_tensor(seq.head_token[t : t + 1]),
        global_orient=torch.as_tensor(seq.pred_global_orient[t : t + 1, None]),
        body_pose=torch.as_tensor(seq.pred_body_pose[t : t + 1]),
        betas=torch.as_tensor(seq.pred_betas[t : t + 1]),
        pred_cam=torch.as_tensor(seq.pred_cam[t : t + 1]),
        histories=[list(history)],
    )


def _track_frame(seq, t):
    return TrackFrame(
        t,
        seq.head_token[t],
        seq.pred_global_orient[t],
        seq.pred_body_pose[t],
        seq.pred_betas[t],
        seq.pred_cam[t],
    )


def test_streaming_falls_back_then_decodes_valid_rotations(trained):
    folder, sequences = trained
    decoder = build_decoder(DecoderConfig(decoder="diffusion", diffusion_model=str(folder / "decoder.pt")))
    assert isinstance(decoder, DiffusionDecoder) and decoder.min_history == 4
    seq, history, used = sequences[0], [], []
    for t in range(20):  # longer than the 16-frame window: both resampled and sliding windows
        out = decoder.decode(_frame_input(seq, t, history))
        used.append(out.used_decoder[0])
        rot = torch.cat([out.global_orient[:, 0:1], out.body_pose], dim=1)[0]
        assert torch.allclose(rot @ rot.transpose(-1, -2), torch.eye(3).expand(24, 3, 3), atol=1e-4)
        assert torch.allclose(torch.det(rot), torch.ones(24), atol=1e-4)
        if used[-1] == "regression":
            assert torch.equal(out.body_pose[0], torch.as_tensor(seq.pred_body_pose[t]))
        else:
            assert not torch.allclose(out.body_pose[0], torch.as_tensor(seq.pred_body_pose[t]))
        history.append(_track_frame(seq, t))
    assert used == ["regression"] * 3 + ["diffusion"] * 17


def test_lookahead_returns_the_delayed_frame_and_batches_persons(trained):
    folder, sequences = trained
    model, _ = load_diffusion_model(folder / "decoder.pt")
    causal = DiffusionDecoder(model, lookahead=0)
    delayed = DiffusionDecoder(model, lookahead=2)
    seq = sequences[1]
    history = [_track_frame(seq, t) for t in range(2)]
    young = delayed.decode(_frame_input(seq, 2, history))  # too young: regression pose of frame t-2
    assert young.used_decoder == ["regression"]
    assert torch.equal(young.body_pose[0], torch.as_tensor(seq.pred_body_pose[0]))
    history = [_track_frame(seq, t) for t in range(16)]
    a = causal.decode(_frame_input(seq, 16, history))
    b = delayed.decode(_frame_input(seq, 16, history))
    assert a.used_decoder == b.used_decoder == ["diffusion"]
    assert not torch.allclose(a.body_pose, b.body_pose)
    # Two persons in one batch give what each gives alone.
    other = sequences[2]
    single = causal.decode(_frame_input(other, 5, [_track_frame(other, t) for t in range(5)]))
    pair = DecoderInput(
        track_ids=[1, 2],
        image_tokens=torch.zeros(2, 2, 4),
        head_token=torch.as_tensor(np.stack([seq.head_token[16], other.head_token[5]])),
        global_orient=torch.as_tensor(np.stack([seq.pred_global_orient[16], other.pred_global_orient[5]]))[
            :, None
        ],
        body_pose=torch.as_tensor(np.stack([seq.pred_body_pose[16], other.pred_body_pose[5]])),
        betas=torch.as_tensor(np.stack([seq.pred_betas[16], other.pred_betas[5]])),
        pred_cam=torch.zeros(2, 3),
        histories=[history, [_track_frame(other, t) for t in range(5)]],
    )
    both = causal.decode(pair)
    assert torch.allclose(both.body_pose[0], a.body_pose[0], atol=1e-5)
    assert torch.allclose(both.body_pose[1], single.body_pose[0], atol=1e-5)


def test_bad_inputs_and_configuration_errors(trained):
    folder, sequences = trained
    model, _ = load_diffusion_model(folder / "decoder.pt")
    decoder = DiffusionDecoder(model)
    seq = sequences[0]
    history = [_track_frame(seq, t) for t in range(5)]
    bad = _frame_input(seq, 5, history)
    bad.head_token = torch.zeros(1, 7)  # a different base model
    with pytest.raises(InputError, match=r"64-d head tokens, got \[7\]-d"):
        decoder.decode(bad)
    with pytest.raises(InputError, match="lookahead"):
        DiffusionDecoder(model, lookahead=16)
    with pytest.raises(InputError, match="sample_steps"):
        DiffusionDecoder(model, sample_steps=0)
    assert isinstance(build_decoder(DecoderConfig()), RegressionDecoder)
    with pytest.raises(MissingFileError, match="diffusion_model"):
        build_decoder(DecoderConfig(decoder="diffusion"))
    with pytest.raises(CheckpointError, match="not found"):
        build_decoder(DecoderConfig(decoder="diffusion", diffusion_model=str(folder / "nope.pt")))
    with pytest.raises(FastHMRError, match="unknown decoder"):
        build_decoder(DecoderConfig(decoder="smooth"))


@pytest.mark.slow
def test_trained_decoder_cuts_error_and_jitter_of_its_noisy_input(body_model, tmp_path):
    """The decoder's reason to exist: fed a jittery per-frame regressor (20 degrees of noise per
    joint), it returns poses closer to the truth and far smoother. Half a minute of training."""
    cfg = diffusion_preset("tiny")
    settings = TrainSettings(steps=80, batch_size=16, lr=4e-3, save_every=1000)
    train_vae(cfg, synthetic_clips(8, 60, seed=0), body_model, tmp_path / "vae.pt", settings)
    sequences = synthetic_sequences(8, 60, noise_deg=20.0, feature_dim=cfg.feature_dim, seed=1)
    train_denoiser(tmp_path / "vae.pt", sequences, tmp_path / "decoder.pt", settings)
    model, _ = load_diffusion_model(tmp_path / "decoder.pt")
    held_out = synthetic_sequences(3, 40, noise_deg=20.0, feature_dim=cfg.feature_dim, seed=99)
    result = evaluate(DiffusionDecoder(model), body_model, held_out, plot=tmp_path / "plot.png")
    regression, diffusion = result["regression"], result["diffusion"]
    assert diffusion["mpjpe_mm"] < 0.85 * regression["mpjpe_mm"]
    assert diffusion["accel_error_mm"] < 0.2 * regression["accel_error_mm"]
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_measure_cost_counts_macs_and_latency():
    small = measure_cost(preset="tiny", repeats=2)
    assert small["latency_ms_median"] > 0 and small["macs"] > 0
    cfg = diffusion_preset("tiny")
    cfg.window *= 2
    bigger = measure_cost(preset=cfg, repeats=2)
    assert bigger["macs"] > 1.5 * small["macs"]  # more frames, more work


def test_bag_decoder_flags_override_the_config_file_only_when_given(tmp_path: Path):
    config = tmp_path / "bag.yaml"
    decoder = {"decoder": "diffusion", "diffusion_model": "a.pt", "lookahead": 3, "sample_steps": 2}
    config.write_text(yaml.safe_dump({"decoder": decoder}))
    parser = argparse.ArgumentParser()
    add_bag_arguments(parser)
    flags = ["--config", str(config), "--lookahead", "0", "--decoder-model", "b.pt"]
    given = bag_decoder_config(parser.parse_args(["in", "out", *flags]))
    assert (given.decoder, given.diffusion_model, given.lookahead, given.sample_steps) == (
        "diffusion", "b.pt", 0, 2
    )  # fmt: skip
    kept = bag_decoder_config(parser.parse_args(["in", "out", "--config", str(config)]))
    assert (kept.diffusion_model, kept.lookahead, kept.sample_steps) == ("a.pt", 3, 2)
    steps = bag_decoder_config(parser.parse_args(["in", "out", "--sample-steps", "4"]))
    assert (steps.decoder, steps.lookahead, steps.sample_steps) == ("regression", 0, 4)
    with pytest.raises(SystemExit):
        parser.parse_args(["in", "out", "--decoder", "kalman"])


def test_build_decoder_loads_genhmr_lazily(tmp_path):
    from fasthmr_ros.decoders.genhmr.checkpoint import save_genhmr
    from fasthmr_ros.decoders.genhmr.decoder import GenHMRDecoder
    from tests.genhmr_fixtures import tiny_models

    save_genhmr(tmp_path / "genhmr.pt", *tiny_models())
    decoder = build_decoder(DecoderConfig(decoder="genhmr", genhmr_model=str(tmp_path / "genhmr.pt")))
    assert isinstance(decoder, GenHMRDecoder) and decoder.name == "genhmr"
    with pytest.raises(MissingFileError, match="genhmr_model"):
        build_decoder(DecoderConfig(decoder="genhmr"))
