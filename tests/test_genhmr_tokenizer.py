import pytest
import torch

from fasthmr_ros.config import GenHMRTokenizerConfig
from fasthmr_ros.decoders.genhmr.checkpoint import load_genhmr, load_tokenizer, save_tokenizer
from fasthmr_ros.decoders.genhmr.quantizer import EMACodebook
from fasthmr_ros.decoders.genhmr.skeleton import RestSkeleton
from fasthmr_ros.decoders.genhmr.training import (
    TrainSettings,
    evaluate_tokenizer,
    geodesic_deg,
    train_tokenizer,
)
from fasthmr_ros.errors import CheckpointError, MissingFileError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets
from tests.genhmr_fixtures import pose_basis, synthetic_poses

CI_TOKENIZER = GenHMRTokenizerConfig(
    num_tokens=8, codebook_size=128, code_dim=32, hidden_dim=64, num_res_blocks=2
)


@pytest.fixture(scope="module")
def skeleton():
    assets = ensure_standin_assets()
    return RestSkeleton.from_body_model(BodyModel(assets.smpl))


@pytest.fixture(scope="module")
def trained(skeleton):
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    basis = pose_basis()
    train, val = synthetic_poses(4000, basis, g), synthetic_poses(256, basis, g)
    settings = TrainSettings(steps=400, batch_size=128, lr=4e-3, eval_every=400, progress=False)
    tokenizer, metrics = train_tokenizer(train, val, CI_TOKENIZER, settings, skeleton)
    return tokenizer, metrics, val


def test_skeleton_matches_the_body_model_joints(skeleton):
    assets = ensure_standin_assets()
    body_model = BodyModel(assets.smpl)
    g = torch.Generator().manual_seed(1)
    body = synthetic_poses(4, pose_basis(), g)
    eye = torch.eye(3).expand(4, 1, 3, 3)
    full = body_model(
        eye, torch.cat([body, torch.eye(3).expand(4, 2, 3, 3)], 1), torch.zeros(4, 10)
    ).smpl_joints
    assert torch.allclose(skeleton(body), full - full[:, :1], atol=1e-5)


def test_tokenizer_reconstructs_synthetic_poses(trained, skeleton):
    tokenizer, metrics, val = trained
    identity = torch.eye(3).expand_as(val)
    rest_mpjpe_mm = float((skeleton(identity) - skeleton(val)).norm(dim=-1).mean()) * 1000
    rest_angle = float(geodesic_deg(identity, val).mean())
    assert metrics["mpjpe_mm"] < 0.3 * rest_mpjpe_mm, (metrics, rest_mpjpe_mm)
    assert metrics["rotation_error_deg"] < 0.6 * rest_angle, (metrics, rest_angle)
    assert metrics["codebook_usage"] > 0.2
    indices = tokenizer.encode(val[:5])
    assert indices.shape == (5, CI_TOKENIZER.num_tokens) and indices.dtype == torch.long


def test_tokenizer_checkpoint_round_trip(trained, tmp_path):
    tokenizer, metrics, val = trained
    path = tmp_path / "tok.pt"
    save_tokenizer(path, tokenizer, metrics)
    loaded = load_tokenizer(path)
    assert loaded.cfg == tokenizer.cfg
    assert torch.equal(loaded.encode(val[:16]), tokenizer.encode(val[:16]))
    assert evaluate_tokenizer(loaded, val, None)["rotation_error_deg"] == pytest.approx(
        metrics["rotation_error_deg"]
    )
    with pytest.raises(CheckpointError, match="genhmr_tokenizer"):
        load_genhmr(path)  # a tokenizer alone is not a full GenHMR model
    with pytest.raises(MissingFileError):
        load_tokenizer(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_tokenizer(tmp_path / "junk.pt")


def test_ema_codebook_follows_data_and_resets_dead_codes():
    torch.manual_seed(0)
    book = EMACodebook(size=16, dim=2, decay=0.5, dead_threshold=0.5).train()
    centres = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    book(centres.repeat(8, 1))  # initialises from the data
    with torch.no_grad():
        book.embed[4:] = 100.0  # 12 codes far from every data point: never chosen, must be reset
        book.cluster_size[4:] = 0.0
    for _ in range(20):
        data = centres.repeat(8, 1) + 0.1 * torch.randn(32, 2)
        quantised, _, _ = book(data)
    assert (book.embed.abs() < 10).all()  # every dead code moved back to the data
    assert (quantised - data).norm(dim=-1).max() < 0.5
