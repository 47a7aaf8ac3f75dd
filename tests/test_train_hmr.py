"""`fasthmr train-hmr`: a mirrored crop must carry labels that the body model and the crop camera
agree with, the body-frame loss must see articulation and not heading, and a run must resume and
fine-tune from the weights it is given, or the network learns from wrong targets or starting points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from fasthmr_ros.cli.main import main as fasthmr
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.checkpoint import load_model, read_checkpoint_file
from fasthmr_ros.models.joints import SMPL_MIRRORED
from fasthmr_ros.samples.dataset import read_labelled_set, usable_persons
from fasthmr_ros.samples.scene import standin_body_model
from fasthmr_ros.samples.synth import SynthConfig, write_synth_set
from fasthmr_ros.training.hmr import (
    HMRTrainer,
    TrainHMRSettings,
    body_frame,
    crop_projection,
    make_batch,
    mirror_batch,
    save_trained,
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train") / "set"
    cfg = SynthConfig(width=160, height=120, min_depth=2.0, max_depth=3.5)
    write_synth_set(root, images=4, seed=11, cfg=cfg, progress=False)
    return root


@pytest.fixture(scope="module")
def batch(data_root: Path):
    ds = read_labelled_set(data_root)
    rows = usable_persons(ds)[:6]
    return make_batch(ds, rows, 0.0, np.random.default_rng(0))


def test_mirrored_rotations_give_the_mirrored_joints_and_projections(batch) -> None:
    body = standin_body_model()
    everyone = torch.ones(len(batch.crops), dtype=torch.bool)
    mirrored = mirror_batch(batch, everyone)
    assert torch.equal(mirrored.crops, batch.crops.flip(-1))

    joints = body(mirrored.global_orient, mirrored.body_pose, mirrored.betas).smpl_joints
    rel = joints - joints[:, :1]
    true_rel = mirrored.joints3d - mirrored.joints3d[:, :1]
    assert float((rel - true_rel).norm(dim=-1).max()) < 2e-3  # metres: the body is symmetric

    # The crop camera's projection error is the original one, joint for joint (left and right
    # swapped): mirroring moves labels and camera together.
    original = body(batch.global_orient, batch.body_pose, batch.betas).smpl_joints
    error = (crop_projection(original, batch.cam) - batch.joints2d).norm(dim=-1)
    error_mirrored = (crop_projection(joints, mirrored.cam) - mirrored.joints2d).norm(dim=-1)
    torch.testing.assert_close(error_mirrored, error[:, list(SMPL_MIRRORED)], atol=2e-3, rtol=0)
    assert float(error.mean()) < 0.1  # and the crop camera does place the joints (crop units)


def test_only_the_chosen_persons_are_mirrored_and_twice_is_identity(batch) -> None:
    which = torch.arange(len(batch.crops)) % 2 == 0
    once = mirror_batch(batch, which)
    assert torch.equal(once.crops[~which], batch.crops[~which])
    assert not torch.equal(once.body_pose[which], batch.body_pose[which])
    twice = mirror_batch(once, which)
    for name in ("crops", "global_orient", "body_pose", "betas", "joints3d", "joints2d", "cam"):
        torch.testing.assert_close(getattr(twice, name), getattr(batch, name), atol=1e-6, rtol=0)


def test_the_body_frame_takes_out_the_heading_and_keeps_the_articulation(batch) -> None:
    body = standin_body_model()
    n = len(batch.crops)
    heading = torch.as_tensor(Rotation.random(n, random_state=3).as_matrix(), dtype=torch.float32)
    turned = heading[:, None] @ batch.global_orient  # (B, 1, 3, 3): the same body, turned

    def rel(root: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        joints = body(root, pose, batch.betas).smpl_joints
        return joints - joints[:, :1]

    a, b = rel(batch.global_orient, batch.body_pose), rel(turned, batch.body_pose)
    assert float((a - b).norm(dim=-1).mean()) > 0.05  # metres: the camera-frame joints moved
    local_a = body_frame(a, batch.global_orient[:, 0])
    torch.testing.assert_close(local_a, body_frame(b, turned[:, 0]), atol=1e-5, rtol=0)
    other_pose = rel(batch.global_orient, batch.body_pose.roll(1, dims=0))
    assert float((body_frame(other_pose, batch.global_orient[:, 0]) - local_a).norm(dim=-1).mean()) > 0.02


def test_train_hmr_resumes_refuses_mixed_settings_and_fine_tunes(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.pt"
    command = ["train-hmr", str(data_root), "--out", str(out), "--preset", "tiny", "--steps", "2",
               "--batch-size", "4", "--checkpoint-every", "1", "--threads", "1",
               "--local-weight", "1"]  # fmt: skip
    assert fasthmr(command) == 0
    trained = load_model(out).state_dict()
    record = read_checkpoint_file(out)["extra"]["training"]
    assert record["settings"]["w_local"] == 1.0 and "--local-weight 1" in record["command"]
    assert "joints_local" in record["final"]

    # The same command again finds the finished state: no further steps, the same weights.
    assert fasthmr(command) == 0
    for name, value in load_model(out).state_dict().items():
        assert torch.equal(value, trained[name]), name
    # Other flags in that work folder are refused rather than mixed into its state.
    assert fasthmr([*command, "--lr", "0.1"]) == 2

    dataset, body = read_labelled_set(data_root), standin_body_model()
    fine = TrainHMRSettings(preset="tiny", steps=1, batch_size=4, init=str(out))
    fine_tuner = HMRTrainer(dataset, body, fine, tmp_path / "fine")
    for name, value in fine_tuner.model.state_dict().items():
        assert torch.equal(value, trained[name]), name
    fine_tuner.run(progress=False)
    saved = save_trained(fine_tuner, tmp_path / "fine.pt", "fine")
    lineage = read_checkpoint_file(saved)["extra"]["training"]
    assert lineage["command"] == "fine" and lineage["from"] == record  # the start's recipe travels along
    with pytest.raises(InputError, match="'tiny' model"):
        HMRTrainer(
            dataset, body, TrainHMRSettings(preset="vit_xs", batch_size=4, init=str(out)), tmp_path / "other"
        )
