"""Block-causal attention for block-diffusion models (SDAR): causal across blocks, bidirectional within.

transformers has no such mode, but it passes a ready 4D mask through unchanged, so a forward pre-hook
on the model turns the 2D padding mask of every call into the block-causal 4D mask. Blocks follow the
position ids (which skip left padding), so block k holds positions [k * size, (k + 1) * size) of each
sequence whatever its padding. A block size of 1 is plain causal attention; one block as long as the
sequence is full bidirectional attention (the tests check both). Masks reach the attention as 4D masks
of the kind it takes (bool for sdpa, additive float for eager), which transformers passes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from benchmark.models.batching import SequenceBatch


def block_causal_mask(attention_mask: torch.Tensor, position_ids: torch.Tensor, block_size: int) -> torch.Tensor:
    """[b, T] padding mask and position ids -> [b, 1, T, T] bool, True where query i may attend key j."""
    block = torch.div(position_ids, block_size, rounding_mode="floor")  # [b, T]
    allowed = block.unsqueeze(1) <= block.unsqueeze(2)  # [b, q, k]: key block <= query block
    allowed &= attention_mask.bool().unsqueeze(1)  # no padded keys
    eye = torch.eye(attention_mask.shape[1], dtype=torch.bool, device=attention_mask.device)
    allowed |= eye  # a padded query attends to itself (a row with no key would give NaN)
    return allowed.unsqueeze(1)


def attention_allowed(model, batch: SequenceBatch) -> torch.Tensor:
    """[b, T, T] bool, True where query i may attend key j: the model's own rule (padding, and block-causal
    when ``install_block_attention`` made it so), spelled out so that cached calls can slice it."""
    size = getattr(model, "_block_attention_size", None)
    if size is not None:
        return block_causal_mask(batch.attention_mask, batch.position_ids, size)[:, 0]
    b, T = batch.attention_mask.shape
    allowed = batch.attention_mask.bool().unsqueeze(1).expand(b, T, T).clone()
    allowed |= torch.eye(T, dtype=torch.bool, device=allowed.device)  # a padded query attends to itself
    return allowed


def model_mask(model, allowed: torch.Tensor) -> torch.Tensor:
    """A [b, q, k] bool rule as the 4D mask the model's attention takes as given (bool for sdpa, additive
    float for eager); transformers passes a 4D mask through unchanged."""
    allowed = allowed.unsqueeze(1)
    if getattr(model.config, "_attn_implementation", "sdpa") == "eager":
        return torch.zeros(allowed.shape, dtype=model.dtype, device=allowed.device).masked_fill(
            ~allowed, torch.finfo(model.dtype).min)
    return allowed


def install_block_attention(model: torch.nn.Module, block_size: int) -> None:
    """Make every forward of ``model`` block-causal with ``block_size`` (idempotent)."""
    if block_size < 1:
        raise ValueError(f"block size must be at least 1, got {block_size}")
    if getattr(model, "_block_attention_size", None) is not None:
        model._block_attention_size = model.config.block_attention = block_size
        return
    model._block_attention_size = block_size
    model.config.block_attention = block_size  # saved with the model: a trained copy stays block-causal

    def hook(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        if ids is None or (mask is not None and mask.dim() == 4):
            return args, kwargs
        b, t = ids.shape
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.long, device=ids.device)
        positions = kwargs.get("position_ids")
        if positions is None:
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
            kwargs["position_ids"] = positions
        allowed = block_causal_mask(mask, positions, module._block_attention_size)[:, 0]
        kwargs["attention_mask"] = model_mask(module, allowed)
        return args, kwargs

    model.register_forward_pre_hook(hook, with_kwargs=True)
