"""Diffusion sampler for masked DLLMs: iterative unmasking, confidence orders, block (semi-AR) mode.

References:
    - Chang et al., "MaskGIT", arXiv 2202.04200 (confidence-ordered unmasking).
    - Ye et al., "Dream 7B" (``maskgit_plus`` / ``entropy`` / ``margin`` orders, AR shift).
    - Arriola et al., "Block Diffusion", arXiv 2503.09573 (blocks left to right).

Each step predicts the masked positions of the current block (logits and softmax for that block only),
then commits the k most confident predictions; k spreads the
remaining masks evenly over the remaining steps of the current block, and with a confidence
``threshold`` every prediction above it is committed too (parallel decoding, as Dream's and Fast-dLLM's
threshold). In block mode only positions of the current block may be committed, so blocks fill
strictly left to right. Sampling uses temperature and nucleus (top-p) filtering.
"""

from __future__ import annotations

import math

import torch

from benchmark.core.api import SamplerSettings
from benchmark.models.batching import SequenceBatch


def _confidence(probs: torch.Tensor, chosen: torch.Tensor, order: str, generator) -> torch.Tensor:
    """Higher = commit earlier. probs [b, T, V], chosen [b, T] -> [b, T]."""
    if order == "confidence":  # maskgit_plus: probability of the sampled token
        return probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
    if order == "entropy":
        return (probs * probs.clamp_min(1e-12).log()).sum(-1)
    if order == "margin":
        top2 = probs.topk(2, dim=-1).values
        return top2[..., 0] - top2[..., 1]
    if order == "random":
        return torch.rand(chosen.shape, generator=generator, device=chosen.device)
    if order == "left_to_right":
        T = chosen.shape[1]
        return -torch.arange(T, device=chosen.device, dtype=torch.float).expand_as(chosen)
    raise ValueError(f"unknown unmasking order {order!r}")


def _top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability reaches ``top_p``, renormalised. [b, T, V]"""
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(-1, descending=True)
    keep = sorted_p.cumsum(-1) - sorted_p < top_p  # always keeps the most likely token
    filtered = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
    return filtered / filtered.sum(-1, keepdim=True)


@torch.no_grad()
def diffusion_generate(model, batch: SequenceBatch, mask_token_id: int, shift: bool,
                       settings: SamplerSettings, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill every mask of ``batch.input_ids`` inside ``batch.response_mask``; returns ids [b, T].

    The response region must be the last R positions (as ``diffusion_batch`` builds it).
    """
    x = batch.input_ids.clone()  # [b, T]
    b, T = x.shape
    R = int(batch.response_mask[0].sum())
    start = T - R
    block = settings.block_length or R
    if R % block:
        raise ValueError(f"response length {R} is not a multiple of block_length {block}")
    n_blocks = R // block
    steps_per_block = max(1, math.ceil(settings.steps / n_blocks))
    for k in range(n_blocks):
        lo, hi = start + k * block, start + (k + 1) * block
        for step in range(steps_per_block):
            masked = (x == mask_token_id)
            masked[:, :lo] = False
            masked[:, hi:] = False  # [b, T] eligible positions
            if not masked.any():
                break
            # Logits only from the first position that can predict the current block (the LM head and the
            # softmax over the vocabulary are the costly part at a large vocabulary): positions lo..hi-1.
            first = lo - 1 if shift else lo  # with the AR shift, logits at i-1 predict token i
            if first < 0:
                raise ValueError("the response starts at position 0: with the AR shift it needs a prompt token")
            logits = model(**batch.model_inputs(x), logits_to_keep=T - first).logits.float()  # [b, T-first, V]
            logits = logits[:, : hi - lo]  # [b, block, V]: predictions for positions lo..hi-1
            logits[..., mask_token_id] = -float("inf")  # never predict the mask itself
            if settings.temperature > 0:
                probs = _top_p(torch.softmax(logits / settings.temperature, dim=-1), settings.top_p)
                chosen = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(
                    b, hi - lo)
            else:
                probs = torch.softmax(logits, dim=-1)
                chosen = probs.argmax(-1)
            in_block = masked[:, lo:hi]
            conf = _confidence(probs, chosen, settings.order, generator)
            conf = conf.masked_fill(~in_block, -float("inf"))
            remaining = in_block.sum(-1)  # [b]
            per_step = torch.ceil(remaining / (steps_per_block - step)).long()  # [b]
            rank = conf.argsort(dim=-1, descending=True, stable=True).argsort(-1)  # [b, block]
            commit = (rank < per_step.unsqueeze(-1)) & in_block
            if settings.threshold is not None:  # on the chosen token's probability, whatever the order
                p_chosen = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
                commit |= in_block & (p_chosen >= settings.threshold)
            x[:, lo:hi] = torch.where(commit, chosen, x[:, lo:hi])
    return x
