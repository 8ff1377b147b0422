"""``token_log_probs`` as it was before the LM head ran on response positions only (commit c81540d): the
reference the restricted version must match in estimates and gradients."""

import torch
import torch.nn.functional as F


def token_log_probs_full_logits(model, batch, corrupted, targets, shift):
    logits = model(**batch.model_inputs(corrupted)).logits.float()  # [rows, T, V]
    if shift:
        logp = torch.zeros(targets.shape, dtype=logits.dtype, device=logits.device)
        logp[:, 1:] = -F.cross_entropy(logits[:, :-1].transpose(1, 2), targets[:, 1:], reduction="none")
        return logp
    return -F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")


def elbo_full_logits(model, batch, noise, mask_token_id, shift):
    """The ELBO as it was before the head ran on masked positions only and copies ran in chunks: every copy
    in one forward with logits at every position. [b]"""
    n, b, T = noise.masks.shape
    masks = noise.masks.reshape(n * b, T)
    targets = batch.input_ids.repeat(n, 1)
    corrupted = targets.masked_fill(masks, mask_token_id)
    logits = model(input_ids=corrupted, attention_mask=batch.attention_mask.repeat(n, 1),
                   position_ids=batch.position_ids.repeat(n, 1)).logits
    rep = type(batch)(targets, batch.attention_mask.repeat(n, 1), batch.position_ids.repeat(n, 1),
                      batch.response_mask.repeat(n, 1))
    logp = token_log_probs_full_logits(lambda **kw: type("O", (), {"logits": logits})(), rep, corrupted, targets,
                                       shift)
    return ((logp * masks).sum(-1).reshape(n, b) * noise.weights).mean(0)
