"""Loading checkpoints as AR models or DLLMs, offline, without ``trust_remote_code``."""

from __future__ import annotations

import json
from pathlib import Path


def load_tokenizer(path: str | Path):
    """The tokenizer saved in ``path``.

    A tokenizer saved from a raw ``tokenizers`` object (our tiny family) is loaded as such: transformers 5's
    ``AutoTokenizer`` would rebuild it from the model type (Qwen2's byte-level BPE) and mangle it.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    cfg_file = Path(path) / "tokenizer_config.json"
    if cfg_file.is_file():
        cfg = json.loads(cfg_file.read_text())
        if cfg.get("tokenizer_class") in ("TokenizersBackend", "PreTrainedTokenizerFast"):
            return PreTrainedTokenizerFast.from_pretrained(path)
        if "auto_map" in cfg and (Path(path) / "tokenizer.json").is_file():
            # A custom tokenizer class that needs remote code (Dream's): its tokenizer.json is complete.
            return PreTrainedTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path, trust_remote_code=False)  # never run a folder's code, never ask


# Released DLLMs whose config names a custom model type (loaded with remote code upstream) but whose
# weights follow a transformers layout: read the config as that layout, never run their code.
# Each entry: (transformers layout, default block size of block-causal attention or None for full).
LAYOUT_OF_MODEL_TYPE = {
    "dream": ("qwen2", None),  # Dream-v0: Qwen2.5's module names, bidirectional, AR shift
    "sdar": ("qwen3", 4),  # SDAR: Qwen3's module names, block diffusion (block 4 in the paper), no shift
}


def default_block_attention(path: str | Path) -> int | None:
    """The block size a block-diffusion model needs, or None for full attention: the ``block_attention`` a
    saved model of ours records in its config, else the released model type's (SDAR: 4)."""
    raw = json.loads((Path(path) / "config.json").read_text())
    if isinstance(raw.get("block_attention"), int):
        return raw["block_attention"]
    return LAYOUT_OF_MODEL_TYPE.get(str(raw.get("model_type", "")).lower(), (None, None))[1]


def _config(path: Path):
    from transformers import CONFIG_MAPPING, AutoConfig

    raw = json.loads((path / "config.json").read_text())
    layout, _ = LAYOUT_OF_MODEL_TYPE.get(str(raw.get("model_type", "")).lower(), (None, None))
    if layout is None:
        try:
            return AutoConfig.from_pretrained(path, trust_remote_code=False)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path / 'config.json'}: field 'model_type' is {raw.get('model_type')!r}, which "
                             f"transformers does not know and which has no layout in LAYOUT_OF_MODEL_TYPE "
                             f"({exc})") from exc
    fields = {k: v for k, v in raw.items() if k not in ("model_type", "architectures", "auto_map")}
    return CONFIG_MAPPING[layout](**fields)


def load_model(path: str | Path, kind: str, dtype=None, block_attention: int | None = None):
    """An AR causal LM, or a DLLM: the same class with ``config.is_causal = False`` set before loading;
    ``block_attention`` makes a DLLM block-causal with that block size (see ``attention.py``; default: what
    the checkpoint says, so an SDAR model, and any model trained from one, stays block-causal)."""
    import torch
    from transformers import AutoModelForCausalLM

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a model folder (no config.json)")
    config = _config(path)
    if kind not in ("ar", "dllm"):
        raise ValueError(f"model kind must be 'ar' or 'dllm', got {kind!r}")
    config.is_causal = kind == "ar"  # explicit both ways: a saved DLLM config carries is_causal = false
    model = AutoModelForCausalLM.from_pretrained(path, config=config, dtype=dtype or torch.float32,
                                                 trust_remote_code=False)
    if block_attention is None and kind == "dllm":
        block_attention = default_block_attention(path)
    if block_attention is not None and kind == "dllm":
        from benchmark.models.attention import install_block_attention

        install_block_attention(model, int(block_attention))
    return model.eval()
