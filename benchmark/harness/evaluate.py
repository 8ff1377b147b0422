"""Scoring one aligned model on one task: decode answers, verify them, compare with the base model.

AR models decode with ``generate`` (greedy at temperature 0); DLLMs with our diffusion sampler using
the family's settings. The win rate against the base model's own answers is judged by the task's
verifier on the main metric: a win counts 1, a tie 1/2 (the fair protocol).
"""

from __future__ import annotations

import math

import torch

from benchmark.harness.api import AlignedModel, EvalItem, ModelPair, SamplerSettings, Task

BATCH = 64


def generate_answers(aligned: AlignedModel, pair: ModelPair, prompts: list[str], seed: int) -> list[str]:
    from benchmark.models.loading import load_model, load_tokenizer

    model, tok = load_model(aligned.path, aligned.kind), load_tokenizer(aligned.path)
    return decode(model, tok, aligned.kind, [pair.format_prompt(p) for p in prompts], pair.sampler,
                  pair.mask_token_id, pair.shift, seed)


@torch.no_grad()
def decode(model, tok, kind: str, inputs: list[str], settings: SamplerSettings, mask_token_id: int | None,
           shift: bool, seed: int) -> list[str]:
    """Answers to already formatted ``inputs``: ``generate`` for AR models, the diffusion sampler otherwise."""
    from tqdm.auto import tqdm

    from benchmark.models.batching import decode_responses, diffusion_batch, encode_prompts, left_pad
    from benchmark.models.sampler import diffusion_generate

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
            x = diffusion_generate(model, batch, mask_token_id, shift, settings, generator)
            answers += decode_responses(tok, x[:, -settings.max_new_tokens:])
    return answers


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def win_scores(task: Task, items: list[EvalItem], responses: list[str], base: list[dict]) -> list[float]:
    """Per item 1 / 0.5 / 0 by the task's main metric; ``base`` is the base cell's samples."""
    main = task.metrics[0].name
    if [b["prompt"] for b in base] != [i.prompt for i in items]:
        raise ValueError("the base model's samples were made on different prompts; rerun with --force")
    out = []
    for item, response, ref in zip(items, responses, base):
        mine, theirs = task.score(item, response)[main], ref["scores"][main]
        out.append(1.0 if mine > theirs else 0.5 if mine == theirs else 0.0)
    return out


def evaluate(task: Task, items: list[EvalItem], responses: list[str], base: list[dict] | None):
    """Return (metrics, samples). Metrics are percentages with standard errors over items."""
    per_item = [task.score(i, r) for i, r in zip(items, responses)]
    metrics = {}
    for m in task.metrics:
        mean, se = mean_and_stderr([s[m.name] for s in per_item])
        metrics[m.name] = {"value": 100 * mean, "stderr": 100 * se, "display": m.display,
                           "higher_is_better": m.higher_is_better}
    samples = [{"prompt": i.prompt, "response": r, "scores": s} for i, r, s in zip(items, responses, per_item)]
    if base is not None:
        wins = win_scores(task, items, responses, base)
        mean, se = mean_and_stderr(wins)
        metrics["win_rate"] = {"value": 100 * mean, "stderr": 100 * se, "display": "Win rate vs base (ties 1/2)",
                               "higher_is_better": True}
        for s, w in zip(samples, wins):
            s["win"] = w
    return metrics, samples
