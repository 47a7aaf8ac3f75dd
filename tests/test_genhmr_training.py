"""Training GenHMR's masked transformer on synthetic image features."""

import pytest
import torch

from fasthmr_ros.config import genhmr_preset
from fasthmr_ros.decoders.data import synthetic_sequences
from fasthmr_ros.decoders.genhmr.training import (
    TrainSettings,
    add_synthetic_image_tokens,
    evaluate_genhmr,
    frames_from_sequences,
    train_genhmr,
    train_tokenizer,
)
from fasthmr_ros.errors import InputError


def _frames(count, frames, seed):
    seqs = synthetic_sequences(count, frames, feature_dim=16, seed=seed)
    return frames_from_sequences(add_synthetic_image_tokens(seqs, num_tokens=4, dim=24, seed=0))


def test_masked_transformer_learns_tokens_from_image_features():
    torch.manual_seed(0)
    cfg = genhmr_preset("tiny")
    cfg.tokenizer.codebook_size = 32
    train, val = _frames(4, 50, seed=1), _frames(1, 40, seed=2)
    poses = train.body_pose[:, :21]
    quick = TrainSettings(steps=60, batch_size=64, lr=4e-3, eval_every=60, progress=False)
    tokenizer, _ = train_tokenizer(poses, poses[:50], cfg.tokenizer, quick)
    with torch.no_grad():
        targets = tokenizer.eval().encode(val.body_pose[:, :21])
    assert all(len(col.unique()) > 1 for col in targets.T)
    cfg.transformer.context_dim, cfg.transformer.head_token_dim = 24, 16
    settings = TrainSettings(steps=200, batch_size=32, lr=3e-3, eval_every=200, progress=False)
    model, after = train_genhmr(train, val, tokenizer, cfg.transformer, settings)
    torch.manual_seed(1)
    untrained = type(model)(cfg.transformer, cfg.tokenizer.num_tokens, cfg.tokenizer.codebook_size)
    before = evaluate_genhmr(untrained, tokenizer, val, None)
    assert after["token_accuracy"] > before["token_accuracy"] + 0.2, (before, after)
    assert after["orient_error_deg"] < 0.5 * before["orient_error_deg"], (before, after)


def test_frames_need_image_tokens():
    with pytest.raises(InputError, match="image tokens"):
        frames_from_sequences(synthetic_sequences(1, 10, feature_dim=8))
