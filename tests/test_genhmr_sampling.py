import math

import pytest
import torch

from fasthmr_ros.config import GenHMRSamplingConfig
from fasthmr_ros.decoders.genhmr.sampling import masked_count, uncertainty_guided_sample
from tests.genhmr_fixtures import TINY_TOKENIZER, image_context, tiny_models


def test_cosine_schedule_counts():
    N = 96
    assert [masked_count(t, 5, N) for t in range(6)] == [
        math.floor(math.cos(math.pi / 2 * t / 5) * N) for t in range(6)
    ]
    assert masked_count(0, 5, N) == N and masked_count(5, 5, N) == 0
    counts = [masked_count(t, 5, N) for t in range(6)]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("iterations", [1, 3, 5, 8])
def test_masked_tokens_follow_the_schedule(iterations):
    _, model = tiny_models()
    tokens, head = image_context(3)
    result = uncertainty_guided_sample(model, tokens, head, GenHMRSamplingConfig(iterations=iterations))
    N = TINY_TOKENIZER.num_tokens
    assert result.masked_counts == [masked_count(t, iterations, N) for t in range(1, iterations + 1)]
    assert result.masked_counts[-1] == 0
    assert result.indices.shape == (3, N)
    assert (result.indices >= 0).all() and (result.indices < TINY_TOKENIZER.codebook_size).all()
    assert ((result.confidence > 0) & (result.confidence <= 1)).all()


def test_argmax_mode_is_deterministic():
    _, model = tiny_models()
    tokens, head = image_context(4)
    cfg = GenHMRSamplingConfig(mode="argmax", iterations=5)
    torch.manual_seed(1)
    first = uncertainty_guided_sample(model, tokens, head, cfg)
    torch.manual_seed(2)
    second = uncertainty_guided_sample(model, tokens, head, cfg)
    assert torch.equal(first.indices, second.indices)
    assert torch.equal(first.global_orient, second.global_orient)
    # Argmax of the single-pass prediction of the fully masked input fixes the first tokens.
    with torch.no_grad():
        probs = model(torch.full((4, 8), model.mask_id), tokens, head).logits.softmax(-1)
    top_conf, top_idx = probs.max(-1)
    kept_first = top_conf.topk(8 - first.masked_counts[0], dim=-1).indices
    assert torch.equal(first.indices.gather(1, kept_first), top_idx.gather(1, kept_first))


def test_sample_mode_uses_the_generator():
    _, model = tiny_models()
    tokens, head = image_context(4)
    cfg = GenHMRSamplingConfig(mode="sample", iterations=4, temperature=3.0)
    a = uncertainty_guided_sample(model, tokens, head, cfg, torch.Generator().manual_seed(5))
    b = uncertainty_guided_sample(model, tokens, head, cfg, torch.Generator().manual_seed(5))
    c = uncertainty_guided_sample(model, tokens, head, cfg, torch.Generator().manual_seed(6))
    assert torch.equal(a.indices, b.indices)
    assert not torch.equal(a.indices, c.indices)


def test_bad_mode_is_rejected():
    _, model = tiny_models()
    tokens, head = image_context(1)
    with pytest.raises(ValueError, match="sampling mode"):
        uncertainty_guided_sample(model, tokens, head, GenHMRSamplingConfig(mode="greedy"))
