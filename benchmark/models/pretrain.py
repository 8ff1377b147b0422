"""Small training loops that build the embedded tiny family: AR language modelling, then
masked-diffusion adaptation of the AR weights (how Dream-7B was made from Qwen2.5-7B, in miniature)."""

from __future__ import annotations

import math
import random

import torch
from tqdm.auto import tqdm

from benchmark.models.batching import ar_batch, diffusion_batch
from benchmark.models.elbo import masked_diffusion_loss


def _schedule(optimizer: torch.optim.Optimizer, steps: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_loop(model, make_loss, steps: int, lr: float, desc: str, warmup: int | None = None) -> list[float]:
    """AdamW with warm-up (default: 5% of the steps) and cosine decay; ``make_loss(step)`` returns the loss
    of one batch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    scheduler = _schedule(optimizer, steps, warmup=warmup or max(1, steps // 20))
    model.train()
    losses = []
    bar = tqdm(range(steps), desc=desc, leave=False)
    for step in bar:
        loss = make_loss(step)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    model.eval()
    return losses


def train_ar(model, tokenizer, examples: list[tuple[str, str]], steps: int, batch_size: int, lr: float,
             seed: int) -> list[float]:
    """Next-token prediction on chat-formatted (prompt, response) examples, loss on every token."""
    rng = random.Random(seed)

    def make_loss(step: int) -> torch.Tensor:
        batch = ar_batch(tokenizer, *zip(*rng.sample(examples, batch_size)))
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        return model(**batch.model_inputs(), labels=labels).loss

    return train_loop(model, make_loss, steps, lr, "pretrain AR")


def train_dllm(model, tokenizer, examples: list[tuple[str, str]], region_len: int, mask_token_id: int,
               shift: bool, steps: int, batch_size: int, lr: float, seed: int) -> list[float]:
    """Masked-diffusion training (negative ELBO per token) over fixed-length response regions."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)

    def make_loss(step: int) -> torch.Tensor:
        prompts, responses = zip(*rng.sample(examples, batch_size))
        batch = diffusion_batch(tokenizer, list(prompts), list(responses), region_len)
        return masked_diffusion_loss(model, batch, mask_token_id, shift, generator=gen)

    return train_loop(model, make_loss, steps, lr, "adapt DLLM")
