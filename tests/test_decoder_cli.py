"""`fasthmr extract-features` and `fasthmr train-decoder` end to end on small real files."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
import torch

from fasthmr_ros.cli import extract_features, train_decoder
from fasthmr_ros.cli.main import main
from fasthmr_ros.decoders.data import read_feature_sequence, synthetic_clips, write_amass
from fasthmr_ros.decoders.diffusion.model import load_diffusion_model, load_vae
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.default import embedded_default_model
from fasthmr_ros.models.standin import ensure_standin_assets
from fasthmr_ros.pipeline.crop import crop_persons
from fasthmr_ros.pipeline.estimator import MeshEstimator
from fasthmr_ros.pipeline.extract import extract_sequence, read_labels


def _parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def _labelled_sequence(folder, count=3):
    rng = np.random.default_rng(0)
    names = []
    for i in range(count):
        image = rng.integers(0, 255, size=(96, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"frame_{i}.png"), image)
        names.append(f"frame_{i}.png")
    np.savez(
        folder / "walk.npz",
        images=np.array(names),
        boxes=np.tile([10.0, 8.0, 70.0, 90.0], (count, 1)),
        global_orient=rng.normal(scale=0.3, size=(count, 3)),
        body_pose=rng.normal(scale=0.3, size=(count, 69)),
        betas=np.zeros(10),
        fps=np.array(25.0),
    )
    return folder / "walk.npz"


def test_extract_sequence_stores_what_the_model_computes(tmp_path):
    labels = _labelled_sequence(tmp_path)
    model = embedded_default_model()
    body = BodyModel(ensure_standin_assets().smpl)
    seq = extract_sequence(labels, MeshEstimator(model, body), body, keep_image_tokens=True)
    truth = read_labels(labels)
    assert len(seq) == 3 and seq.fps == 25.0 and seq.name == "walk"
    np.testing.assert_allclose(seq.body_pose, truth["body_pose"], atol=1e-6)
    gt = body(
        torch.as_tensor(seq.global_orient[:, None]),
        torch.as_tensor(seq.body_pose),
        torch.as_tensor(seq.betas),
    )
    np.testing.assert_allclose(seq.joints3d, gt.smpl_joints.numpy(), atol=1e-5)
    # Frame 1 through the same model directly gives the stored head token and prediction.
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "frame_1.png")), cv2.COLOR_BGR2RGB)
    with torch.no_grad():
        out = model(crop_persons(image, truth["boxes"][1:2]).crops)
    np.testing.assert_allclose(seq.head_token[1], out["head_token"][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(seq.pred_body_pose[1], out["body_pose"][0].numpy(), atol=1e-4)
    assert seq.image_tokens.dtype == np.float16 and seq.image_tokens.shape[:2] == (
        3,
        out["image_tokens"].shape[1],
    )


def test_extract_features_cli_writes_and_resumes(tmp_path):
    _labelled_sequence(tmp_path)
    args = _parse(extract_features, [str(tmp_path), "--out", str(tmp_path / "features")])
    assert extract_features.run(args) == 0
    seq = read_feature_sequence(tmp_path / "features" / "walk.npz")
    assert len(seq) == 3 and seq.joints3d is None and seq.image_tokens is None  # stand-in: no GT joints
    before = (tmp_path / "features" / "walk.npz").stat().st_mtime_ns
    assert extract_features.run(args) == 0  # already there: skipped
    assert (tmp_path / "features" / "walk.npz").stat().st_mtime_ns == before


def test_extract_features_rejects_bad_labels(tmp_path):
    labels = _labelled_sequence(tmp_path)
    data = dict(np.load(labels))
    data["boxes"] = data["boxes"][:2]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match="boxes must be"):
        extract_features.run(
            _parse(extract_features, [str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o")])
        )
    del data["fps"]
    np.savez(tmp_path / "nofps.npz", **data)
    with pytest.raises(InputError, match="lack"):
        read_labels(tmp_path / "nofps.npz")


def test_train_decoder_cli_on_amass_files_then_synthetic_denoiser(tmp_path, capsys):
    motion = tmp_path / "amass" / "subject"
    for i, clip in enumerate(synthetic_clips(3, 50, fps=60.0, seed=4)):
        write_amass(motion / f"clip{i}_poses.npz", clip)
    np.savez(motion / "shape.npz", betas=np.zeros(16))  # shape-only files are skipped
    common = ["--steps", "4", "--batch-size", "4", "--save-every", "2"]
    vae_args = [
        "vae",
        "--motion",
        str(tmp_path / "amass"),
        "--preset",
        "tiny",
        "--out",
        str(tmp_path / "vae.pt"),
    ]
    assert train_decoder.run(_parse(train_decoder, vae_args + common)) == 0
    _, payload = load_vae(tmp_path / "vae.pt")
    assert payload["step"] == 4 and payload["config"].window == 16
    den = ["denoiser", "--vae", str(tmp_path / "vae.pt"), "--synthetic", "3", "--frames", "30"]
    den += ["--out", str(tmp_path / "decoder.pt")]
    assert train_decoder.run(_parse(train_decoder, den + common)) == 0
    assert (
        train_decoder.run(_parse(train_decoder, [*den, "--resume", "--steps", "6", "--batch-size", "4"])) == 0
    )
    _, payload = load_diffusion_model(tmp_path / "decoder.pt")
    assert payload["step"] == 6
    code = main(
        [
            "eval-decoder",
            "--model",
            str(tmp_path / "decoder.pt"),
            "--synthetic",
            "2",
            "--frames",
            "20",
            "--json",
            str(tmp_path / "e.json"),
        ]
    )
    assert code == 0 and "accel error x" in capsys.readouterr().out
    with pytest.raises(InputError, match="--motion PATH"):
        train_decoder.run(_parse(train_decoder, ["vae", "--out", str(tmp_path / "x.pt")]))
