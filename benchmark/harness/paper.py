"""The offline dry run of a suite of hub checkpoints (``paper``: ``benchmark/suites/paper.toml``).

    python -m benchmark run --suite paper --dry-run --data-dir shared/data/armap-eval

The dry run checks everything it can without a GPU or the network: model configs resolve from the local
Hugging Face cache, task files load (with the validating loaders), the judge is configured, a GPU is
present. It prints the plan (cells, generated tokens, forward passes) with an estimated cost and exits 2
with one message listing everything missing. Facts: shared/PAPERS.md.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import EVAL_TASKS, FAMILIES
from benchmark.eval.eval_task import EvalRun
from benchmark.eval.judges import OpenAIJudge
from benchmark.harness.suites import get_suite
from benchmark.harness.training_sets import preference_origin

METHODS = ("base", "ar-dpo", "ar-map", "elbo-dpo", "vrpo")  # the default when a suite names none
H100_BF16_FLOPS = 989e12
ASSUMED_MFU = 0.3  # decoding and ELBO passes are far from peak; a round, conservative figure
PARAMS_B = {"Qwen/Qwen2.5-7B-Instruct": 7.6, "Qwen/Qwen3-8B": 8.2, "Qwen/Qwen3-0.6B": 0.6}  # cost estimate


def _in_hf_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str) and Path(found).is_file()


def _judge_ready() -> str | None:
    judge = OpenAIJudge()
    return None if os.environ.get(judge.key_env) else f"no judge key: ${judge.key_env} is not set " \
        f"(judge {judge.model} at {judge.base_url}; or pass a local reward-model judge)"


@functools.cache
def _cached_datasets() -> frozenset[str]:
    """Dataset ids in the local HF cache, scanned once per process."""
    from huggingface_hub import scan_cache_dir

    try:
        return frozenset(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "dataset")
    except Exception:  # no cache folder yet
        return frozenset()


def _hub_dataset_cached(repo_id: str) -> bool:
    return repo_id in _cached_datasets()


def _load_task(name: str, spec, data_dir: Path | None) -> tuple[int, str, list[str]]:
    """(items, where from, problems) for one task of the suite, offline."""
    adapter = EVAL_TASKS.get(name)()
    adapter.resolve_options({k: str(v) for k, v in spec.options})  # the suite's options must exist
    path = None
    if spec.data:
        path = Path(spec.data)
        if not path.is_file() and not path.is_absolute():
            path = (Path(data_dir) / spec.data) if data_dir else None
    if path is not None and path.is_file():
        try:
            n, source = len(adapter.load(EvalRun(data=path))), str(path)
        except BenchmarkError as exc:  # report every broken file, not just the first
            return 0, str(path), [f"task {name}: {exc}"]
        return n, source, []
    if adapter.hub is not None and _hub_dataset_cached(adapter.hub.id):
        return -1, f"hub {adapter.hub.id} (cached)", []
    hub = f" or the hub dataset {adapter.hub.id} in the local cache" if adapter.hub else ""
    where = f"{path} (not there)" if path else "a --data-dir"
    return 0, "", [f"task {name}: needs {where}{hub}"]


def dry_run(data_dir: Path | None, seeds: int = 3, suite_name: str = "paper") -> tuple[list[str], list[str]]:
    """Return (plan lines, missing items) for a suite of hub checkpoints (``benchmark/suites/paper.toml``)."""
    import torch

    suite = get_suite(suite_name)
    families = [FAMILIES.get(name)().spec for name in suite.families]
    methods = suite.methods or METHODS
    lines, missing = [], []
    for fam in families:
        for role, repo in (("AR", fam.ar), ("DLLM", fam.dllm)):
            if not Path(repo).is_dir() and not _in_hf_cache(repo):
                missing.append(f"weights of {repo} ({fam.name} {role}) are not in the Hugging Face cache "
                               f"(huggingface-cli download {repo})")
        shift = "AR shift" if fam.shift or fam.shift is None else "in-place prediction"
        lines.append(f"family {fam.name}: {fam.ar} -> {fam.dllm}; mask id {fam.mask_token_id}, {shift}, gamma "
                     f"{fam.default_gamma:g}, block {fam.sampler.block_length}, threshold {fam.sampler.threshold}, "
                     f"T {fam.sampler.temperature}, cache {fam.sampler.cache}")
    for spec in suite.data_sets:
        try:
            origin = preference_origin(suite, spec, data_dir)
        except BenchmarkError as exc:
            missing.append(str(exc))
            continue
        if origin.path is None and not _hub_dataset_cached(origin.hub.id):
            file = f" (or put {spec.path} under --data-dir)" if spec.path else ""
            missing.append(f"training set {spec.name}: the hub dataset {origin.hub.id} is not in the local "
                           f"cache{file}")
        lines.append(f"training set {spec.name}: {origin.describe()} ({origin.format}), {spec.n_heldout} pairs held "
                     f"out, {suite.n_train} trained on -> scored by {', '.join(spec.scores)}")
    rows = {}
    needs_judge = False
    for name in suite.tasks:
        spec = suite.eval_spec(name)
        needs_judge |= dict(spec.options).get("judge") == "openai"
        n, source, problems = _load_task(name, spec, data_dir)
        missing += problems
        if source:
            rows[name] = max(n, 0)
            count = f"{n} items loaded" if n >= 0 else "items counted at run time"
            opts = ", ".join(f"{k}={v}" for k, v in spec.options)
            pairwise = " (judged against the base row's answers of the same run)" if "base" in \
                EVAL_TASKS.get(name).options else ""
            lines.append(f"task {name}: {count} from {source}" + (f" ({opts})" if opts else "") + pairwise)
    if needs_judge and (problem := _judge_ready()):
        missing.append(problem)
    if not torch.cuda.is_available():
        missing.append(f"no CUDA GPU: the {suite.name} suite runs hub checkpoints on GPUs "
                       "(use the tiny suite on a CPU)")
    # Cost: every DLLM method decodes each prompt with up to `steps` forward passes over prompt + answer.
    n_cells = len(families) * len(suite.train) * len(methods) * seeds
    prompts = sum(rows.values())
    flops = 0.0
    for fam in families:
        tokens_per_prompt = fam.sampler.steps * (256 + fam.sampler.max_new_tokens)  # ~256-token prompts
        flops += 2 * PARAMS_B.get(fam.ar, 7.0) * 1e9 * tokens_per_prompt * prompts * len(methods) * seeds
    hours = flops / (H100_BF16_FLOPS * ASSUMED_MFU) / 3600
    lines.append(f"plan: {n_cells} (family, method, training set, seed) units scoring {len(suite.tasks)} tasks "
                 f"({prompts} items loaded); decoding alone about {flops:.2e} FLOPs = {hours:.0f} H100-hours at "
                 f"{ASSUMED_MFU:.0%} MFU, before training (ELBO-DPO/VRPO: LLaDA 1.5 reports 405 H100-hours at "
                 f"n=8 on 350K pairs); `run --suite {suite.name}` runs them once nothing is missing")
    return lines, missing
