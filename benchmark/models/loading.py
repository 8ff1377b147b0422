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
    return AutoTokenizer.from_pretrained(path)


def load_model(path: str | Path, kind: str, dtype=None):
    """An AR causal LM, or a DLLM: the same class with ``config.is_causal = False`` set before loading."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a model folder (no config.json)")
    config = AutoConfig.from_pretrained(path)
    if kind == "dllm":
        config.is_causal = False
    elif kind != "ar":
        raise ValueError(f"model kind must be 'ar' or 'dllm', got {kind!r}")
    model = AutoModelForCausalLM.from_pretrained(path, config=config, dtype=dtype or torch.float32)
    return model.eval()
