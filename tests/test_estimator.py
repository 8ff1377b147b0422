"""ELBO estimator properties the theory predicts (LLaDA 1.5, Sec. 4).

Exactness checks use the micro family; the variance orderings need a trained model (the real tiny
family, marked slow): in an untrained one every mask pattern predicts about equally badly.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from benchmark.align.variance import measure_variance, preference_scores
from benchmark.models.batching import diffusion_batch
from benchmark.models.elbo import ElboError, EstimatorConfig, elbo, sample_noise, token_log_probs
from benchmark.models.loading import load_model, load_tokenizer


def _policy_and_reference(pair):
    reference = load_model(pair.dllm_path, "dllm")
    policy = load_model(pair.dllm_path, "dllm")
    torch.manual_seed(0)
    with torch.no_grad():  # a policy close to the reference, as during preference training
        for p in policy.parameters():
            p.add_(0.02 * p.std() * torch.randn_like(p))
    return policy, reference, load_tokenizer(pair.dllm_path)


@pytest.fixture(scope="module")
def models(micro_pair):
    return _policy_and_reference(micro_pair)


@pytest.fixture(scope="module")
def tiny_models(tiny_pair):
    return _policy_and_reference(tiny_pair)


def exact_elbo(model, batch, mask_id):
    """Enumerate every mask of the L response tokens: B = sum_m S(m) / (|m| C(L, |m|))."""
    positions = batch.response_mask[0].nonzero().flatten().tolist()
    L = len(positions)
    masks = []
    for size in range(1, L + 1):
        for subset in itertools.combinations(positions, size):
            m = torch.zeros_like(batch.response_mask[0])
            m[list(subset)] = True
            masks.append(m)
    masks = torch.stack(masks)  # [2^L - 1, T]
    targets = batch.input_ids.repeat(len(masks), 1)
    rep = type(batch)(targets, batch.attention_mask.repeat(len(masks), 1), batch.position_ids.repeat(len(masks), 1),
                      batch.response_mask.repeat(len(masks), 1))
    with torch.no_grad():
        logp = token_log_probs(model, rep, targets.masked_fill(masks, mask_id), targets, shift=True)
    sizes = masks.sum(-1).double()
    weights = 1.0 / (sizes * torch.tensor([math.comb(L, int(s)) for s in sizes], dtype=torch.double))
    return float(((logp.double() * masks).sum(-1) * weights).sum())


@pytest.mark.parametrize("form", ["exact_l", "continuous"])
def test_estimates_are_unbiased(models, micro_pair, form):
    _, reference, tok = models
    batch = diffusion_batch(tok, [micro_pair.format_prompt("what is 2 plus 3 ?")], ["5"], 5)  # L = 5 tokens
    exact = exact_elbo(reference, batch, micro_pair.mask_token_id)
    noise = sample_noise(batch.response_mask, n_t=10_000, form=form, stratified=False,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        est = elbo(reference, batch, noise, micro_pair.mask_token_id, True, max_rows=2500, per_estimate=True)
    est = est[:, 0].double().numpy()
    stderr = est.std(ddof=1) / math.sqrt(len(est))
    assert abs(est.mean() - exact) < 3 * stderr, (est.mean(), exact, stderr)


def _pairs_batch(micro_pair, tok, n=32):
    from benchmark.core.registry import TASKS

    prefs = [p for name in ("arith", "facts") for p in TASKS.get(name)().build(0, 0, n // 2, 0).heldout]
    prompts = [micro_pair.format_prompt(p.prompt) for p in prefs]
    return diffusion_batch(tok, prompts * 2, [p.chosen for p in prefs] + [p.rejected for p in prefs], 8)


def _score_variance(models, micro_pair, estimator, k=24, seed=0):
    policy, reference, tok = models
    batch = _pairs_batch(micro_pair, tok)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        s = torch.stack([preference_scores(policy, reference, batch, estimator, 1.0, micro_pair.mask_token_id, True,
                                           generator=g) for _ in range(k)])
    return s.var(0).mean().item()


@pytest.mark.slow
def test_antithetic_sharing_lowers_variance(tiny_models, tiny_pair):
    models, micro_pair = tiny_models, tiny_pair
    shared = _score_variance(models, micro_pair, EstimatorConfig(n=2, n_t=2, n_yt=1, antithetic=True))
    independent = _score_variance(models, micro_pair, EstimatorConfig(n=2, n_t=2, n_yt=1, antithetic=False))
    assert shared < independent / 4


@pytest.mark.slow
def test_variance_falls_as_one_over_n(tiny_models, tiny_pair):
    models, micro_pair = tiny_models, tiny_pair
    budgets = [1, 2, 4, 8, 16]
    variances = [_score_variance(models, micro_pair, EstimatorConfig(n=n, n_t=n, n_yt=1, antithetic=True,
                                                                      stratified=False)) for n in budgets]
    slope = np.polyfit(np.log(budgets), np.log(variances), 1)[0]
    assert -1.3 <= slope <= -0.7, (slope, variances)


def test_measure_variance_reports_all_three(models, micro_pair):
    policy, reference, tok = models
    batch = _pairs_batch(micro_pair, tok, n=8)
    report = measure_variance(policy, reference, batch, EstimatorConfig(n=2, n_t=2, n_yt=1, antithetic=True), 1.0,
                              micro_pair.mask_token_id, True, k=3, grad_batch=4)
    assert report.var_score > 0 and report.var_loss > 0 and report.var_grad > 0
    # k draws x (policy + reference) forwards over all pairs, then k x 2 per mini-batch of 4 pairs
    assert report.forward_passes == 3 * 2 + 2 * 3 * 2


def test_antithetic_sharing_adds_no_forward_passes(models, micro_pair):
    from benchmark.core.cost import CostMeter

    policy, reference, tok = models
    batch = _pairs_batch(micro_pair, tok, n=8)
    counts = {}
    for antithetic in (True, False):
        with CostMeter() as meter, torch.no_grad():
            preference_scores(policy, reference, batch, EstimatorConfig(n=8, n_t=8, antithetic=antithetic), 1.0,
                              micro_pair.mask_token_id, True)
        counts[antithetic] = (meter.forward_passes, meter.tokens)
    assert counts[True] == counts[False] == (2, 2 * 8 * batch.input_ids.numel())


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 8, "n_t": 4, "n_yt": 1}, "differs from the budget n = 8"),
    ({"n": 0, "n_t": 1, "n_yt": 1}, "budget n must be >= 1"),
])
def test_estimator_config_errors(kwargs, message):
    with pytest.raises(ElboError, match=message):
        EstimatorConfig(**kwargs)


def test_empty_response_is_an_error(models, micro_pair):
    _, _, tok = models
    with pytest.raises(ValueError, match=r"responses \[1\] are empty"):
        diffusion_batch(tok, [micro_pair.format_prompt("what is 1 plus 1 ?")] * 2, ["2", "  "], 8)
