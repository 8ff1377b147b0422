"""The ``paper`` suite: the AR-MAP paper's model pairs, settings and tasks, and its offline dry run.

    python -m benchmark run --suite paper --dry-run --data-dir shared/data/armap-eval

The dry run checks everything it can without a GPU or the network: model configs resolve from the local
Hugging Face cache, task files load (with the validating loaders), the judge is configured, a GPU is
present. It prints the plan (cells, generated tokens, forward passes) with an estimated cost and exits 2
with one message listing everything missing. Facts: shared/PAPERS.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.harness.api import SamplerSettings
from benchmark.harness.errors import BenchmarkError


@dataclass(frozen=True)
class HubFamily:
    """An AR model and the DLLM initialised from it, by hub id (loaded without trust_remote_code)."""

    name: str
    ar_id: str
    dllm_id: str
    mask_token_id: int
    shift: bool  # Dream keeps the AR shift; SDAR predicts in place
    gamma: float  # the released scripts' default
    sampler: SamplerSettings
    params_b: float  # parameters, billions (for the cost estimate)


PAPER_FAMILIES = (
    HubFamily("qwen2.5-dream", "Qwen/Qwen2.5-7B-Instruct", "Dream-org/Dream-v0-Instruct-7B", 151666, True, 6.0,
              SamplerSettings(max_new_tokens=512, steps=512, block_length=32, temperature=0.7, top_p=0.95,
                              threshold=0.9), 7.6),
    HubFamily("qwen3-sdar", "Qwen/Qwen3-8B", "JetLM/SDAR-8B-Chat", 151669, False, 6.0,
              SamplerSettings(max_new_tokens=512, steps=512, block_length=4, temperature=0.7, top_p=0.95,
                              threshold=0.9), 8.2),
)


@dataclass(frozen=True)
class PaperTask:
    name: str
    files: tuple[tuple[str, str], ...]  # (file under --data-dir, loader: prompts | answers | truthfulqa)
    kind: str  # "pairwise" (judge), "mc" (likelihood)
    notes: str = ""
    needs_judge: bool = False


PAPER_TASKS = (
    PaperTask("alpacaeval", (("alpacaeval.jsonl", "answers"), ("alpaca-dream-base.jsonl", "answers"),
                             ("alpaca-qwen2.5-base.jsonl", "answers")),
              "pairwise", "805 prompts, win rate vs the base model's answers", needs_judge=True),
    PaperTask("arena-hard", (("arena-hard-base.jsonl", "prompts"), ("arena-dream-base.jsonl", "answers")),
              "pairwise", "500 prompts, win rate vs the base model's answers", needs_judge=True),
    PaperTask("truthfulqa-mc2", (("TruthfulQA.csv", "truthfulqa"),), "mc", "817 questions, MC2"),
)
HUB_ONLY = ("gsm8k", "math500", "ifeval")  # loaded from the hub at run time (openai/gsm8k, ...)

METHODS = ("base", "ar-dpo", "ar-map", "elbo-dpo", "vrpo")
H100_BF16_FLOPS = 989e12
ASSUMED_MFU = 0.3  # decoding and ELBO passes are far from peak; a round, conservative figure


def _in_hf_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str) and Path(found).is_file()


def _judge_ready() -> str | None:
    from benchmark.eval.judges import OpenAIJudge

    judge = OpenAIJudge()
    return None if os.environ.get(judge.key_env) else f"no judge key: ${judge.key_env} is not set " \
        f"(judge {judge.model} at {judge.base_url}; or pass a local reward-model judge)"


def dry_run(data_dir: Path | None, seeds: int = 3) -> tuple[list[str], list[str]]:
    """Return (plan lines, missing items)."""
    import torch

    from benchmark.eval.loaders import load_answers, load_prompts, load_truthfulqa_csv

    lines, missing = [], []
    for fam in PAPER_FAMILIES:
        for role, repo in (("AR", fam.ar_id), ("DLLM", fam.dllm_id)):
            if not _in_hf_cache(repo):
                missing.append(f"weights of {repo} ({fam.name} {role}) are not in the Hugging Face cache "
                               f"(huggingface-cli download {repo})")
        lines.append(f"family {fam.name}: {fam.ar_id} -> {fam.dllm_id}; mask id {fam.mask_token_id}, "
                     f"{'AR shift' if fam.shift else 'in-place prediction'}, gamma {fam.gamma:g}, block "
                     f"{fam.sampler.block_length}, threshold {fam.sampler.threshold}, T {fam.sampler.temperature}")
    rows = {}
    for task in PAPER_TASKS:
        if data_dir is None:
            missing.append(f"task {task.name}: no --data-dir with {', '.join(f for f, _ in task.files)}")
            continue
        counts = []
        loaders = {"truthfulqa": load_truthfulqa_csv, "prompts": load_prompts,
                   "answers": lambda p: load_answers(p, allow_empty=True)}
        for fname, loader in task.files:
            path = Path(data_dir) / fname
            if not path.is_file():
                missing.append(f"task {task.name}: {path} does not exist")
                continue
            try:
                counts.append(len(loaders[loader](path)))
            except BenchmarkError as exc:  # report every broken file, not just the first
                missing.append(f"task {task.name}: {exc}")
        rows[task.name] = max(counts) if counts else 0
        lines.append(f"task {task.name}: {task.kind}, {rows[task.name]} prompts loaded ({task.notes})")
    if any(t.needs_judge for t in PAPER_TASKS) and (problem := _judge_ready()):
        missing.append(problem)
    if not torch.cuda.is_available():
        missing.append("no CUDA GPU: the paper suite runs 7-8B models (use the tiny suite on a CPU)")
    lines.append(f"tasks from the hub at run time: {', '.join(HUB_ONLY)}")
    # Cost: every DLLM method decodes each prompt with up to `steps` forward passes over prompt + answer.
    n_cells = len(PAPER_FAMILIES) * len(METHODS) * seeds
    prompts = sum(rows.values())
    flops = 0.0
    for fam in PAPER_FAMILIES:
        tokens_per_prompt = fam.sampler.steps * (256 + fam.sampler.max_new_tokens)  # ~256-token prompts
        flops += 2 * fam.params_b * 1e9 * tokens_per_prompt * prompts * len(METHODS) * seeds
    hours = flops / (H100_BF16_FLOPS * ASSUMED_MFU) / 3600
    lines.append(f"plan: {n_cells} (family, method, seed) runs x {len(PAPER_TASKS)} file tasks "
                 f"({prompts} prompts); decoding alone about {flops:.2e} FLOPs = {hours:.0f} H100-hours at "
                 f"{ASSUMED_MFU:.0%} MFU, before training (ELBO-DPO/VRPO: LLaDA 1.5 reports 405 H100-hours at "
                 f"n=8 on 350K pairs)")
    return lines, missing
