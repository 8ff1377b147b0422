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


def _aligned_batch(tok, micro_pair, region: int):
    """Prompts cut to 4 or 8 tokens, so that with block-causal attention of block 4 every row's response
    starts at a block boundary (position ids skip the left padding), as block-diffusion models pad them."""
    from benchmark.models.batching import SequenceBatch, left_pad

    texts = ["what is 1 plus 2 ?", "list two fruits without fig", "what color is bama ?", "what is 3 plus 4 ?"]
    ids = [tok(micro_pair.format_prompt(t), add_special_tokens=False)["input_ids"] for t in texts]
    ids = [row[-8:] if len(row) >= 8 else row[-4:] for row in ids]
    assert {len(r) for r in ids} == {4, 8}, [len(r) for r in ids]
    ids = [row + [micro_pair.mask_token_id] * region for row in ids]
    x, attn, pos = left_pad(ids, tok.pad_token_id)
    resp = torch.zeros_like(x, dtype=torch.bool)
    resp[:, -region:] = True
    return SequenceBatch(x, attn, pos, resp)


@pytest.mark.parametrize("temperature,order", [(0.0, "confidence"), (0.0, "margin"), (0.8, "confidence"),
                                               (0.0, "left_to_right")])
def test_cached_sampler_is_token_identical_with_block_causal_attention(micro_pair, temperature, order):
    """Block-causal attention (SDAR): a committed block's keys/values never change, so both caches are exact."""
    from benchmark.models.attention import install_block_attention

    model, tok = load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)
    install_block_attention(model, 4)
    batch = _aligned_batch(tok, micro_pair, 8)
    outs = {}
    for cache in ("none", "prefix", "dual"):
        settings = SamplerSettings(max_new_tokens=8, steps=8, block_length=4, temperature=temperature, order=order,
                                   cache=cache)
        outs[cache] = diffusion_generate(model, batch, micro_pair.mask_token_id, False, settings,
                                         torch.Generator().manual_seed(3))
    assert not (outs["none"] == micro_pair.mask_token_id).any()
    assert torch.equal(outs["prefix"], outs["none"])
    assert torch.equal(outs["dual"], outs["none"])


def test_cached_steps_run_fewer_positions(setup, micro_pair):
    """prefix runs the block and the suffix, dual the block alone (plus the shift's one position)."""
    model, tok, batch = setup
    widths = {}
    original = model.forward
    for cache in ("none", "prefix", "dual"):
        seen = []
        model.forward = lambda *a, _seen=seen, **k: _seen.append(k["input_ids"].shape[1]) or original(*a, **k)
        settings = SamplerSettings(max_new_tokens=8, steps=8, block_length=4, cache=cache)
        diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings)
        widths[cache] = seen
    T = batch.input_ids.shape[1]
    assert widths["none"] == [T] * 8
    assert widths["prefix"] == [T, 9, 9, 9, T, 5, 5, 5]  # from lo-1 to the end
    assert widths["dual"] == [T, 5, 5, 5, T, 5, 5, 5]  # lo-1 .. hi-1


def test_stop_at_eos_keeps_the_answers(micro_pair):
    """Ending a row at a finished block holding end-of-text leaves every decoded answer as it was."""
    from benchmark.models.batching import decode_responses
    from tasks.arith import ArithTask

    model, tok = load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)
    prompts = [micro_pair.format_prompt(i.prompt) for i in ArithTask().build(0, 0, 0, 32).eval]
    batch = diffusion_batch(tok, prompts, None, 8)
    texts = {}
    for stop in (False, True):
        settings = SamplerSettings(max_new_tokens=8, steps=8, block_length=2, stop_at_eos=stop)
        x = diffusion_generate(model, batch, micro_pair.mask_token_id, True, settings, eos_token_id=tok.eos_token_id)
        texts[stop] = decode_responses(tok, x[:, -8:])
    assert texts[True] == texts[False]


def test_unknown_cache_is_refused(setup, micro_pair):
    model, _, batch = setup
    with pytest.raises(ValueError, match="unknown sampler cache 'kv'"):
        diffusion_generate(model, batch, micro_pair.mask_token_id, True, SamplerSettings(cache="kv"))


@pytest.mark.parametrize("task_name", ["arith", "listing"])
def test_caches_keep_bidirectional_scores_within_the_uncached_interval(tiny_pair, task_name):
    """Bidirectional attention: the prefix/dual caches are approximate (Fast-dLLM); on the tiny family's eval
    prompts (block 4 of the 8-token region) their scores stay within the uncached run's 95% interval."""
    from benchmark.core.registry import TASKS
    from benchmark.eval.eval_task import mean_and_stderr
    from benchmark.models.generation import decode

    task = TASKS.get(task_name)()
    items = task.build(0, 0, 0, 10000).eval
    model, tok = load_model(tiny_pair.dllm_path, "dllm"), load_tokenizer(tiny_pair.dllm_path)
    inputs = [tiny_pair.format_prompt(i.prompt) for i in items]
    main = task.metrics[0].name
    scores = {}
    for cache in ("none", "prefix", "dual"):
        settings = SamplerSettings(max_new_tokens=8, steps=8, block_length=4, cache=cache)
        answers = decode(model, tok, "dllm", inputs, settings, tiny_pair.mask_token_id, True, seed=0)
        scores[cache] = mean_and_stderr([task.score(i, a)[main] for i, a in zip(items, answers)])
    mean, se = scores["none"]
    print({k: f"{100 * m:.1f} +- {196 * s:.1f}" for k, (m, s) in scores.items()})
    for cache in ("prefix", "dual"):
        assert abs(scores[cache][0] - mean) <= 1.96 * se, (cache, scores)
