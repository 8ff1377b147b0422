"""The diffusion sampler as it was before it computed logits for the current block only (commit c81540d),
kept as the reference the block-only sampler must match token for token at temperature 0."""

from __future__ import annotations

import math

import torch

from benchmark.core.api import SamplerSettings
from benchmark.models.batching import SequenceBatch
from benchmark.models.sampler import _confidence, _top_p  # unchanged by the block-only rewrite


@torch.no_grad()
def diffusion_generate_full_logits(model, batch: SequenceBatch, mask_token_id: int, shift: bool,
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
            logits = model(**batch.model_inputs(x)).logits.float()  # [b, T, V]
            if shift:  # logits at i-1 predict token i
                logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
            logits[..., mask_token_id] = -float("inf")  # never predict the mask itself
            if settings.temperature > 0:
                probs = _top_p(torch.softmax(logits / settings.temperature, dim=-1), settings.top_p)
                chosen = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(b, T)
            else:
                probs = torch.softmax(logits, dim=-1)
                chosen = probs.argmax(-1)
            conf = _confidence(probs, chosen, settings.order, generator)
            conf = conf.masked_fill(~masked, -float("inf"))
            remaining = masked.sum(-1)  # [b]
            per_step = torch.ceil(remaining / (steps_per_block - step)).long()  # [b]
            rank = conf.argsort(-1, descending=True).argsort(-1)  # [b, T]
            commit = (rank < per_step.unsqueeze(-1)) & masked
            if settings.threshold is not None:  # on the chosen token's probability, whatever the order
                p_chosen = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
                commit |= masked & (p_chosen >= settings.threshold)
            x = torch.where(commit, chosen, x)
    return x
