"""Diffusion sampler for masked DLLMs: iterative unmasking, confidence orders, block (semi-AR) mode,
parallel threshold decoding and Fast-dLLM's key/value caches.

References:
    - Chang et al., "MaskGIT", arXiv 2202.04200 (confidence-ordered unmasking).
    - Ye et al., "Dream 7B" (``maskgit_plus`` / ``entropy`` / ``margin`` orders, AR shift).
    - Arriola et al., "Block Diffusion", arXiv 2503.09573 (blocks left to right).
    - Wu et al., "Fast-dLLM", arXiv 2505.22618 (prefix and dual KV caches, confidence-threshold parallel decoding).

Each step predicts the masked positions of the current block (logits and softmax for that block only),
then commits the k most confident predictions; k spreads the remaining masks evenly over the remaining
steps of the block, and with a confidence ``threshold`` every prediction above it is committed too.
Blocks fill strictly left to right; a finished block holding end-of-text ends its row (``stop_at_eos``:
the rest becomes end-of-text, which is what the region's filler is) and the batch stops when every row has.

Caches (``settings.cache``), all through transformers' own ``DynamicCache``:
    - ``none``: every step runs the whole sequence.
    - ``prefix``: at a block's start one full pass computes every key/value; the steps inside the block
      run only the block and what follows it (bidirectional) or the block alone (block-causal), reusing
      the committed prefix's keys/values. Exact for block-causal attention whose blocks line up with the
      sampler's; for bidirectional attention the prefix is refreshed at each block start (approximate).
    - ``dual``: the steps run only the block, reusing both the prefix's and the masked suffix's
      keys/values from the block's start (bidirectional; approximate).
"""

from __future__ import annotations

import inspect
import math

import torch

from benchmark.core.api import SamplerSettings
from benchmark.models.attention import attention_allowed, model_mask
from benchmark.models.batching import SequenceBatch

CACHES = ("none", "prefix", "dual")


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


def _cache_kwarg(model) -> str:
    """transformers 5.x renamed ``past_key_values`` to ``cache``; take whichever the model's forward has."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _cache_of(columns: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]], config):
    """A fresh ``DynamicCache`` holding the keys/values of ``columns`` (key order = ``columns`` order)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    for i, (keys, values) in enumerate(layers):
        cache.update(keys[:, :, columns], values[:, :, columns], i)
    return cache


def _choose(logits: torch.Tensor, x_block: torch.Tensor, mask_token_id: int, settings: SamplerSettings,
            steps_left: int, generator) -> torch.Tensor:
    """One step on the current block: logits [b, B, V], current ids [b, B] -> new ids [b, B]."""
    logits[..., mask_token_id] = -float("inf")  # never predict the mask itself
    if settings.temperature > 0:
        probs = _top_p(torch.softmax(logits / settings.temperature, dim=-1), settings.top_p)
        b, B, V = probs.shape
        chosen = torch.multinomial(probs.reshape(-1, V), 1, generator=generator).reshape(b, B)
    else:
        probs = torch.softmax(logits, dim=-1)
        chosen = probs.argmax(-1)
    in_block = x_block == mask_token_id
    conf = _confidence(probs, chosen, settings.order, generator).masked_fill(~in_block, -float("inf"))
    per_step = torch.ceil(in_block.sum(-1) / steps_left).long()  # [b]
    rank = conf.argsort(dim=-1, descending=True, stable=True).argsort(-1)  # [b, B]
    commit = (rank < per_step.unsqueeze(-1)) & in_block
    if settings.threshold is not None:  # on the chosen token's probability, whatever the order
        p_chosen = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        commit |= in_block & (p_chosen >= settings.threshold)
    return torch.where(commit, chosen, x_block)


@torch.no_grad()
def diffusion_generate(model, batch: SequenceBatch, mask_token_id: int, shift: bool,
                       settings: SamplerSettings, generator: torch.Generator | None = None,
                       eos_token_id: int | None = None) -> torch.Tensor:
    """Fill every mask of ``batch.input_ids`` inside ``batch.response_mask``; returns ids [b, T].

    The response region must be the last R positions (as ``diffusion_batch`` builds it). ``eos_token_id``
    enables ``settings.stop_at_eos``.
    """
    x = batch.input_ids.clone()  # [b, T]
    b, T = x.shape
    R = int(batch.response_mask[0].sum())
    start = T - R
    block = settings.block_length or R
    if R % block:
        raise ValueError(f"response length {R} is not a multiple of block_length {block}")
    if settings.cache not in CACHES:
        raise ValueError(f"unknown sampler cache {settings.cache!r}; choose one of {', '.join(CACHES)}")
    # With the AR shift the logits at i-1 predict token i, so a block [lo, hi) is read from [lo-1, hi-1).
    if shift and start == 0:
        raise ValueError("the response starts at position 0: with the AR shift it needs a prompt token")
    n_blocks = R // block
    steps_per_block = max(1, math.ceil(settings.steps / n_blocks))
    cached = settings.cache != "none"
    block_causal = getattr(model, "_block_attention_size", None) is not None
    allowed = attention_allowed(model, batch) if cached else None
    cache_kwarg = _cache_kwarg(model) if cached else None
    done = torch.zeros(b, dtype=torch.bool, device=x.device)
    for k in range(n_blocks):
        lo, hi = start + k * block, start + (k + 1) * block
        first = lo - 1 if shift else lo  # the first position whose logits predict the block
        layers = None
        for step in range(steps_per_block):
            if not (x[:, lo:hi] == mask_token_id).any():
                break
            if layers is None:  # the block's first step: the whole sequence (and, cached, every key/value)
                keep = torch.arange(first, first + hi - lo, device=x.device)
                kwargs = {"logits_to_keep": keep}
                if cached:
                    kwargs.update(attention_mask=model_mask(model, allowed), position_ids=batch.position_ids,
                                  use_cache=True)
                    out = model(input_ids=x, **kwargs)
                    cache = out.cache if "cache" in out else out.past_key_values
                    layers = [(layer.keys, layer.values) for layer in cache.layers]
                else:
                    out = model(**batch.model_inputs(x), **kwargs)
            else:  # a cached step: run only the block (and, prefix on bidirectional models, the suffix)
                run_hi = hi if settings.cache == "dual" or block_causal else T
                run = torch.arange(first, run_hi, device=x.device)
                reuse = torch.arange(0, first, device=x.device)
                if settings.cache == "dual":
                    reuse = torch.cat([reuse, torch.arange(hi, T, device=x.device)])
                keys = torch.cat([reuse, run])
                mask = allowed[:, run][:, :, keys]
                out = model(input_ids=x[:, run], attention_mask=model_mask(model, mask),
                            position_ids=batch.position_ids[:, run], use_cache=True,
                            logits_to_keep=torch.arange(0, hi - lo, device=x.device),
                            **{cache_kwarg: _cache_of(reuse, layers, model.config)})
            logits = out.logits.float()  # [b, block, V]: predictions for positions lo..hi-1
            x[:, lo:hi] = _choose(logits, x[:, lo:hi], mask_token_id, settings, steps_per_block - step, generator)
        if settings.stop_at_eos and eos_token_id is not None and hi < T:
            done |= (x[:, start:hi] == eos_token_id).any(-1)
            x[done, hi:] = torch.where(x[done, hi:] == mask_token_id, eos_token_id, x[done, hi:])
            if bool(done.all()):
                break
    return x
