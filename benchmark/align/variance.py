"""Variance of the ELBO-DPO estimators, measured as LLaDA 1.5 does (its Table 2).

References:
    - Zhu et al., arXiv 2505.19223, Sec. 4 / Table 2: 128 preference pairs, 8 independent estimates per
      pair; variance of the preference score s, of the loss -log sigmoid(s), and of the gradient on one
      proxy weight (the first block's FFN up-projection).

For each pair, K estimates of s are drawn with fresh noise; ``var_score`` and ``var_loss`` are the
variance over K averaged over pairs. ``var_grad`` is the variance over K of the mini-batch gradient on
the proxy weight (summed over its elements), averaged over mini-batches: the gradient noise a trainer
actually sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchmark.core.cost import CostMeter
from benchmark.models.batching import SequenceBatch
from benchmark.models.elbo import EstimatorConfig, elbo

PROXY_WEIGHT = "model.layers.0.mlp.up_proj.weight"


@dataclass(frozen=True)
class VarianceReport:
    var_score: float
    var_loss: float
    var_grad: float
    forward_passes: int  # model calls (each processes all n noisy copies of a batch at once)
    tokens: int  # tokens through the model, n copies included


def _rows(batch: SequenceBatch, idx: torch.Tensor) -> SequenceBatch:
    return SequenceBatch(*(t[idx] for t in (batch.input_ids, batch.attention_mask, batch.position_ids,
                                             batch.response_mask)))


def preference_scores(policy, reference, batch: SequenceBatch, estimator: EstimatorConfig, beta: float,
                      mask_token_id: int, shift: bool, max_rows: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """One estimate of s per pair; ``batch`` stacks chosen rows [0, b) and rejected rows [b, 2b)."""
    noise_pi, noise_ref = estimator.draw_pair(batch.response_mask, generator)
    b_pi = elbo(policy, batch, noise_pi, mask_token_id, shift, max_rows)  # [2b]
    with torch.no_grad():
        b_ref = elbo(reference, batch, noise_ref, mask_token_id, shift, max_rows)
    b = batch.input_ids.shape[0] // 2
    return beta * ((b_pi[:b] - b_ref[:b]) - (b_pi[b:] - b_ref[b:]))  # [b]


def measure_variance(policy, reference, batch: SequenceBatch, estimator: EstimatorConfig, beta: float,
                     mask_token_id: int, shift: bool, k: int = 8, grad_batch: int = 8,
                     max_rows: int | None = 512, seed: int = 0, proxy: str = PROXY_WEIGHT) -> VarianceReport:
    """Score, loss and proxy-gradient variance of ``estimator`` over the pairs in ``batch``."""
    if k < 2:
        raise ValueError(f"need at least 2 estimates per pair to measure a variance, got k={k}")
    generator = torch.Generator().manual_seed(seed)
    b = batch.input_ids.shape[0] // 2
    weight = dict(policy.named_parameters())[proxy]
    with CostMeter() as meter:
        scores = []
        with torch.no_grad():
            for _ in range(k):
                scores.append(preference_scores(policy, reference, batch, estimator, beta, mask_token_id, shift,
                                                max_rows, generator))
        s = torch.stack(scores)  # [k, b]
        losses = -F.logsigmoid(s)  # [k, b]
        grad_vars = []
        for start in range(0, b, grad_batch):
            idx = torch.arange(start, min(start + grad_batch, b))
            sub = _rows(batch, torch.cat([idx, idx + b]))
            grads = []
            for _ in range(k):
                policy.zero_grad(set_to_none=True)
                loss = -F.logsigmoid(preference_scores(policy, reference, sub, estimator, beta, mask_token_id,
                                                       shift, max_rows, generator)).mean()
                loss.backward()
                grads.append(weight.grad.detach().flatten().clone())
            g = torch.stack(grads)  # [k, numel]
            grad_vars.append(g.var(dim=0, unbiased=True).sum().item())
        policy.zero_grad(set_to_none=True)
    return VarianceReport(
        var_score=s.var(dim=0, unbiased=True).mean().item(),
        var_loss=losses.var(dim=0, unbiased=True).mean().item(),
        var_grad=sum(grad_vars) / len(grad_vars),
        forward_passes=meter.forward_passes,
        tokens=meter.tokens,
    )
