"""Answer a prompts file (AlpacaEval/Arena-Hard style) with one checkpoint, in the answers format
(``raw_prompt``, ``responses``) that pairwise evaluation and the win rate read."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.core.store import atomic_write_text
from benchmark.eval.eval_task import chat
from benchmark.eval.lm_eval_model import BenchARLM, BenchLM, Request
from benchmark.eval.loaders import load_prompts


def generate_answers_file(model_dir: str | Path, kind: str, prompts_path: str | Path, out: str | Path,
                          max_new_tokens: int = 512, limit: int | None = None, field: str = "instruction",
                          settings: dict | None = None, seed: int = 0) -> int:
    """Answer every prompt of a jsonl file and write the answers format (``raw_prompt``, ``responses``),
    the input of ``winrate``; prompts go through the tokenizer's chat template when it has one."""
    prompts = load_prompts(prompts_path, field)[:limit]
    lm = (BenchLM if kind == "dllm" else BenchARLM)(str(model_dir), seed=seed, **(settings or {}))

    kwargs = {"until": [], "max_gen_toks": max_new_tokens}
    outputs = lm.generate_until([Request(chat(lm, p), kwargs) for p in prompts])
    atomic_write_text(Path(out), "".join(json.dumps({"raw_prompt": p, "responses": [o]}) + "\n"
                                         for p, o in zip(prompts, outputs)))
    return len(outputs)
