"""Tensor layout shared by training, likelihood estimation and sampling.

Every batch is ``[prompt (left-padded) | response region]``. For a DLLM the response region has a fixed
length R: the response, its end-of-sequence token, then more end tokens as filler, which is how Dream
and LLaDA pad, so the model learns where to stop. Position ids skip the left padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SequenceBatch:
    """``input_ids``/``attention_mask``/``position_ids``: [b, T]; ``response_mask``: [b, T] bool, True on
    the response region (the only positions an ELBO masks or a sampler fills)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    response_mask: torch.Tensor

    def to(self, device: torch.device | str) -> SequenceBatch:
        return SequenceBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask,
                                                      self.position_ids, self.response_mask)))

    def model_inputs(self, input_ids: torch.Tensor | None = None) -> dict:
        return {
            "input_ids": self.input_ids if input_ids is None else input_ids,
            "attention_mask": self.attention_mask,
            "position_ids": self.position_ids,
        }


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad token lists; returns input_ids, attention_mask, position_ids, each [b, T]."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
            attn[i, width - len(s):] = 1
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    return ids, attn, pos


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """Token ids of already chat-formatted prompts; an empty prompt is an error (nothing to condition on)."""
    out = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    for text, ids in zip(prompts, out):
        if not ids:
            raise ValueError(f"prompt {text!r} encodes to no tokens")
    return out


def response_region(tokenizer, response: str, region_len: int) -> list[int]:
    """Response ids + eos, filled with eos to ``region_len`` (truncated if longer)."""
    ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = ids[:region_len]
    return ids + [tokenizer.eos_token_id] * (region_len - len(ids))


def diffusion_batch(tokenizer, prompts: list[str], responses: list[str] | None, region_len: int) -> SequenceBatch:
    """Prompt + fixed-length response region. ``responses=None`` gives an all-mask region to sample into."""
    prompt_ids = encode_prompts(tokenizer, prompts)
    ids, attn, pos = left_pad(prompt_ids, tokenizer.pad_token_id)
    b, p = ids.shape
    if responses is None:
        region = torch.full((b, region_len), tokenizer.mask_token_id, dtype=torch.long)
    else:
        if len(responses) != b:
            raise ValueError(f"{b} prompts but {len(responses)} responses")
        empty = [i for i, r in enumerate(responses) if not r.strip()]
        if empty:
            raise ValueError(f"responses {empty} are empty: there is nothing to score or train on")
        region = torch.tensor([response_region(tokenizer, r, region_len) for r in responses], dtype=torch.long)
    input_ids = torch.cat([ids, region], dim=1)  # [b, p + R]
    attention_mask = torch.cat([attn, torch.ones(b, region_len, dtype=torch.long)], dim=1)
    last = pos[:, -1:]
    position_ids = torch.cat([pos, last + 1 + torch.arange(region_len)], dim=1)
    response_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    response_mask[:, p:] = True
    return SequenceBatch(input_ids, attention_mask, position_ids, response_mask)


def ar_batch(tokenizer, prompts: list[str], responses: list[str]) -> SequenceBatch:
    """Prompt + response + eos, left-padded as a whole; ``response_mask`` marks response and eos tokens."""
    seqs, masks = [], []
    for p_ids, r in zip(encode_prompts(tokenizer, prompts), responses):
        r_ids = tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seqs.append(p_ids + r_ids)
        masks.append([0] * len(p_ids) + [1] * len(r_ids))
    ids, attn, pos = left_pad(seqs, tokenizer.pad_token_id)
    resp, _, _ = left_pad(masks, 0)
    return SequenceBatch(ids, attn, pos, resp.bool())


def decode_responses(tokenizer, region: torch.Tensor) -> list[str]:
    """Decode generated regions [b, R], cutting each at its first end-of-sequence token."""
    out = []
    for row in region.tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        out.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return out
