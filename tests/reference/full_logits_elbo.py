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
