"""The diffusion sampler fills every mask; block mode fills blocks strictly left to right."""

import pytest
import torch

from benchmark.core.api import SamplerSettings
from benchmark.models.batching import diffusion_batch
from benchmark.models.loading import load_model, load_tokenizer
from benchmark.models.sampler import diffusion_generate


@pytest.fixture()
def setup(micro_pair):
    model, tok = load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)
    prompts = [micro_pair.format_prompt(p) for p in ("what is 1 plus 2 ?", "list two fruits without fig",
                                                     "what color is bama ?")]
    return model, tok, diffusion_batch(tok, prompts, None, 8)  # prompts of different lengths: left padding


@pytest.mark.parametrize("order", ["confidence", "entropy", "margin", "random", "left_to_right"])
@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_no_mask_left(setup, micro_pair, order, temperature):
    model, tok, batch = setup
    settings = SamplerSettings(max_new_tokens=8, steps=4, temperature=temperature, order=order)
    out = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings, torch.Generator().manual_seed(0))
    assert not (out == micro_pair.mask_token_id).any()
    assert torch.equal(out[:, :-8], batch.input_ids[:, :-8]), "the prompt is never changed"


def test_block_mode_fills_blocks_left_to_right(setup, micro_pair):
    model, tok, batch = setup
    seen = []
    original = model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_ids"][:, -8:].clone())
        return original(*args, **kwargs)

    model.forward = spy
    settings = SamplerSettings(max_new_tokens=8, steps=8, block_length=2, order="random")
    out = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings, torch.Generator().manual_seed(0))
    states = seen + [out[:, -8:]]
    assert len(seen) == 8, "steps are spread over the 4 blocks"
    for state in states:
        masked = (state == micro_pair.mask_token_id)  # [b, 8]
        for k in range(3):
            later_filled = ~masked[:, 2 * (k + 1):].all(-1)
            assert not (masked[:, 2 * k: 2 * (k + 1)].any(-1) & later_filled).any(), \
                "a later block was filled before an earlier one was complete"
    assert not (states[-1] == micro_pair.mask_token_id).any()


def test_block_length_must_divide_the_region(setup, micro_pair):
    model, _, batch = setup
    with pytest.raises(ValueError, match="multiple of block_length"):
        diffusion_generate(model, batch, micro_pair.mask_token_id, True, SamplerSettings(block_length=3))


def test_threshold_commits_confident_tokens_in_fewer_steps(setup, micro_pair):
    model, tok, batch = setup
    calls = []
    original = model.forward
    model.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    settings = SamplerSettings(max_new_tokens=8, steps=8, threshold=0.0)  # every prediction passes
    out = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings)
    assert len(calls) == 1 and not (out == micro_pair.mask_token_id).any()


def test_top_p_keeps_the_nucleus():
    from benchmark.models.sampler import _top_p

    probs = torch.tensor([[[0.5, 0.3, 0.15, 0.05]]])
    kept = _top_p(probs, 0.75)
    assert torch.allclose(kept, torch.tensor([[[0.625, 0.375, 0.0, 0.0]]]))
    assert torch.equal(_top_p(probs, 1.0), probs)


@pytest.mark.parametrize("settings", [
    SamplerSettings(max_new_tokens=8, steps=8),
    SamplerSettings(max_new_tokens=8, steps=4, order="entropy"),
    SamplerSettings(max_new_tokens=8, steps=4, order="margin", block_length=4),
    SamplerSettings(max_new_tokens=8, steps=8, block_length=2, threshold=0.5),
    SamplerSettings(max_new_tokens=8, steps=2, order="left_to_right", block_length=4),
], ids=["confidence", "entropy", "margin-block4", "threshold-block2", "l2r-block4"])
def test_block_only_logits_give_the_same_tokens_as_full_logits(setup, micro_pair, settings):
    """Logits and softmax for the current block only: token-identical to the full-sequence sampler (greedy)."""
    from tests.reference.full_logits_sampler import diffusion_generate_full_logits

    model, tok, batch = setup
    new = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings, torch.Generator().manual_seed(0))
    old = diffusion_generate_full_logits(model, batch, micro_pair.mask_token_id, True, settings,
                                         torch.Generator().manual_seed(0))
    assert torch.equal(new, old)


def test_block_only_logits_on_the_tiny_family_eval_prompts(micro_pair):
    """The same on a full eval batch of a real task (64 prompts of several lengths)."""
    from tasks.arith import ArithTask
    from tests.reference.full_logits_sampler import diffusion_generate_full_logits

    model, tok = load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)
    prompts = [micro_pair.format_prompt(i.prompt) for i in ArithTask().build(0, 0, 0, 64).eval]
    batch = diffusion_batch(tok, prompts, None, 8)
    settings = SamplerSettings(max_new_tokens=8, steps=8)
    new = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings)
    assert torch.equal(new, diffusion_generate_full_logits(model, batch, micro_pair.mask_token_id, True, settings))
