"""Run lm-eval tasks on one of our checkpoints and store the results as cells of our result store.

    python -m benchmark lm-eval --model-dir DIR --kind dllm --tasks gsm8k_local,truthfulqa_mc2_local \\
        --include-path TASK_DIR --method base --out results/

Each task becomes a cell (suite, family, method, task ``lm-eval/<task>``, seed) with lm-eval's metrics
in percent and their standard errors, the lm-eval config, versions and cost, so ``leaderboard`` ranks
them like any other cell.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from benchmark.harness.cost import CostMeter
from benchmark.harness.hashing import config_hash
from benchmark.harness.store import SCHEMA_VERSION, CellKey, ResultStore


def evaluate_with_lm_eval(model_dir: str | Path, kind: str, tasks: list[str], include_path: str | Path | None,
                          store_root: str | Path, family: str, method: str, seed: int = 0,
                          limit: int | None = None, model_args: dict | None = None) -> dict[str, dict]:
    """Return {task: metrics}; write one record per task under ``store_root``."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM
    from benchmark.harness.leaderboard import write_leaderboard

    if kind not in ("ar", "dllm"):
        raise ValueError(f"--kind must be 'ar' or 'dllm', got {kind!r}")
    model_args = dict(model_args or {})
    manager = TaskManager(include_path=str(include_path), include_defaults=False) if include_path else TaskManager()
    with CostMeter() as cost:
        lm = (BenchLM if kind == "dllm" else BenchARLM)(pretrained=str(model_dir), seed=seed, **model_args)
        results = simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit, log_samples=True,
                                  random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
                                  fewshot_random_seed=seed)
    store = ResultStore(Path(store_root))
    out = {}
    for task in tasks:
        raw = results["results"][task]
        metrics = {}
        for key, value in raw.items():
            name, _, flt = key.partition(",")
            if name.endswith("_stderr") or name in ("alias", "sample_len") or not isinstance(value, int | float):
                continue
            stderr = raw.get(f"{name}_stderr,{flt}")
            label = name if flt in ("", "none") else f"{name}:{flt}"
            metrics[label] = {"value": 100 * value,
                              "stderr": 100 * stderr if isinstance(stderr, int | float) and math.isfinite(stderr)
                              else None, "display": label, "higher_is_better": True}
        if not metrics:
            raise ValueError(f"lm-eval returned no numeric metric for task {task!r}: {raw}")
        config = {"model_dir": str(model_dir), "kind": kind, "model_args": model_args, "lm_eval_task": task,
                  "limit": limit, "task_config": results["configs"].get(task, {}),
                  "task_version": results.get("versions", {}).get(task)}
        samples = [{"doc": s.get("doc"), "target": s.get("target"), "response": s.get("filtered_resps"),
                    "metrics": {m: s.get(m) for m in raw if m.split(",")[0] in s}}
                   for s in results.get("samples", {}).get(task, [])]
        store_eval_cell(store, family, method, f"lm-eval__{task}", seed, kind, metrics, samples, config, cost,
                        source="lm-eval")
        out[task] = metrics
    write_leaderboard(store.root)
    return out


def store_eval_cell(store: ResultStore, family: str, method: str, task: str, seed: int, kind: str,
                    metrics: dict, samples: list[dict], config: dict, cost: CostMeter, source: str) -> CellKey:
    """One evaluation-only cell (no alignment step) in the store's schema."""
    from benchmark.harness.runner import environment, git_revision

    key = CellKey(store.root.name, family, method, task, seed)
    config = {"cell": key.__dict__, **config}
    record = {"schema": SCHEMA_VERSION, "cell": key.__dict__, "config_hash": config_hash(config),
              "config": config, "metrics": metrics, "main_metric": next(iter(metrics)),
              "n_eval": len(samples), "model_kind": kind, "info": {"source": source},
              "cost": {"align": {"wall_s": 0.0, "forward_passes": 0, "tokens": 0}, "eval": cost.to_dict()},
              "versions": environment(), "git_revision": git_revision(), "created": datetime.now(UTC).isoformat()}
    store.write(key, record, samples)
    return key


def generate_answers_file(model_dir: str | Path, kind: str, prompts_path: str | Path, out: str | Path,
                          max_new_tokens: int = 512, limit: int | None = None, field: str = "instruction",
                          settings: dict | None = None, seed: int = 0) -> int:
    """Answer every prompt of a jsonl file and write the answers format (``raw_prompt``, ``responses``),
    the input of ``winrate``; prompts go through the tokenizer's chat template when it has one."""
    import json

    from benchmark.eval.eval_task import chat
    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM, Request
    from benchmark.eval.loaders import load_prompts
    from benchmark.harness.store import atomic_write_text

    prompts = load_prompts(prompts_path, field)[:limit]
    lm = (BenchLM if kind == "dllm" else BenchARLM)(str(model_dir), seed=seed, **(settings or {}))

    kwargs = {"until": [], "max_gen_toks": max_new_tokens}
    outputs = lm.generate_until([Request(chat(lm, p), kwargs) for p in prompts])
    atomic_write_text(Path(out), "".join(json.dumps({"raw_prompt": p, "responses": [o]}) + "\n"
                                         for p, o in zip(prompts, outputs)))
    return len(outputs)
