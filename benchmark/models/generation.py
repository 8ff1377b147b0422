"""Answers from a model folder: ``generate`` for AR models, the diffusion sampler for DLLMs.

AR models decode greedily at temperature 0; DLLMs use the family's sampler settings. Used by the runner's
scoring stage and by AR-MAP's gamma diagnostic, so both decode exactly alike.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from benchmark.core.api import AlignedModel, ModelPair, SamplerSettings
from benchmark.models.batching import decode_responses, diffusion_batch, encode_prompts, left_pad
from benchmark.models.loading import load_model, load_tokenizer
from benchmark.models.sampler import diffusion_generate

BATCH = 64


def generate_answers(aligned: AlignedModel, pair: ModelPair, prompts: list[str], seed: int) -> list[str]:
    """Answers of the aligned model to raw ``prompts`` (formatted with the family's chat prompt)."""
    model, tok = load_model(aligned.path, aligned.kind), load_tokenizer(aligned.path)
    return decode(model, tok, aligned.kind, [pair.format_prompt(p) for p in prompts], pair.sampler,
                  pair.mask_token_id, pair.shift, seed)


@torch.no_grad()
def decode(model, tok, kind: str, inputs: list[str], settings: SamplerSettings, mask_token_id: int | None,
           shift: bool, seed: int) -> list[str]:
    """Answers to already formatted ``inputs``: ``generate`` for AR models, the diffusion sampler otherwise."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    answers: list[str] = []
    for start in tqdm(range(0, len(inputs), BATCH), desc="generate", leave=False):
        chunk = inputs[start:start + BATCH]
        if kind == "ar":
            ids, attn, _ = left_pad(encode_prompts(tok, chunk), tok.pad_token_id)
            sample = settings.temperature > 0
            out = model.generate(input_ids=ids, attention_mask=attn, max_new_tokens=settings.max_new_tokens,
                                 do_sample=sample, temperature=settings.temperature if sample else None,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
            answers += decode_responses(tok, out[:, ids.shape[1]:])
        else:
            batch = diffusion_batch(tok, chunk, None, settings.max_new_tokens)
            x = diffusion_generate(model, batch, mask_token_id, shift, settings, generator, tok.eos_token_id)
            answers += decode_responses(tok, x[:, -settings.max_new_tokens:])
    return answers
