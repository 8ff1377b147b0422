"""Evaluation cells: score one finished checkpoint with an eval task or with lm-eval tasks, and store
each result as a cell of the result store, so ``leaderboard`` ranks it like a cell of ``run``.

    python -m benchmark eval --task gsm8k --model-dir DIR --kind dllm --data gsm8k_test.jsonl --limit 50
    python -m benchmark eval --lm-eval gsm8k_local,truthfulqa_mc2_local --include-path TASK_DIR --model-dir DIR

Each lm-eval task becomes a cell (suite, family, method, task ``lm-eval__<task>``, seed) with lm-eval's
metrics in percent and their standard errors, the lm-eval config, versions and cost.
"""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import UTC, datetime
from pathlib import Path

from benchmark.align.checkpoint import fingerprint
from benchmark.core.cost import CostMeter
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, file_sha256
from benchmark.core.provenance import git_revision, hardware, package_versions
from benchmark.core.registry import EVAL_TASKS
from benchmark.core.store import SCHEMA_VERSION, CellKey, ResultStore
from benchmark.eval.eval_task import EvalRun, EvalTask
from benchmark.harness.leaderboard import write_leaderboard

log = logging.getLogger(__name__)


def cell_task_name(task: EvalTask, run: EvalRun) -> str:
    """The task part of an eval cell's identity: the name plus every setting that changes what is measured.

    ``alpacaeval`` with the defaults; ``alpacaeval[protocol=armap,judge=openai]``,
    ``gsm8k[samples=1,limit=50]`` otherwise, so two protocols (or a subset and the whole set) are two
    cells side by side on the leaderboard, never one replacing the other.
    """
    parts = [f"{name}={run.options[name]}" for name in task.identity_options
             if name in run.options and run.options[name] != task.options[name].default]
    if run.limit:
        parts.append(f"limit={run.limit}")
    return f"{task.name}[{','.join(parts)}]" if parts else task.name


def default_method_name(model_dir: Path | None, run: EvalRun) -> str:
    """The leaderboard row of an eval cell when ``--method`` is not given: the checkpoint folder's name
    (or the answers file's stem), never ``base`` for a model that may not be the base model."""
    source = Path(model_dir) if model_dir else run.options.get("answers")
    name = Path(source).name if source else "unnamed"
    name = Path(name).stem if not model_dir else name
    return "".join(c if c.isalnum() or c in "-_.+" else "-" for c in name) or "unnamed"


def _refuse_replacing(store: ResultStore, key: CellKey, config: dict) -> None:
    """A stored cell with another config (another model, data file, option) is replaced only with --force."""
    stored = store.load(key)
    if not stored or "config" not in stored:
        return
    old = stored["config"]
    differ = sorted(k for k in set(old) | set(config) if k != "cell" and old.get(k) != config.get(k))
    if differ:
        raise BenchmarkError(
            f"{store.record_path(key)} holds {key.label()} measured with other settings ({', '.join(differ)}); "
            "pass --force to replace it, or --method NAME / --suite NAME to store this one beside it")


def run_eval_task(task_name: str, model_dir: Path | None, kind: str, run: EvalRun, store_root: Path, family: str,
                  method: str | None, model_args: dict | None = None, force: bool = False) -> dict[str, dict]:
    """Load the items, build the model, evaluate, and store one cell ``(family, method, task, seed)``.

    A cell already stored with the same config (task version, options, model and data fingerprints) is
    returned as it is unless ``force``: a long evaluation that was interrupted elsewhere is not redone.
    A cell stored with another config is an error unless ``force``. ``method`` None: see
    ``default_method_name``.
    """
    task: EvalTask = EVAL_TASKS.get(task_name)()
    task.validate(run)
    if task.needs_model(run):  # checked before any data is loaded or downloaded
        if model_dir is None:
            raise BenchmarkError(f"task {task.name!r} needs --model-dir (a checkpoint folder)")
        if not Path(model_dir).is_dir():
            raise BenchmarkError(f"--model-dir {model_dir}: no such folder")
        if kind not in ("ar", "dllm"):
            raise BenchmarkError(f"--kind must be 'ar' or 'dllm', got {kind!r}")
    config = {"task": task.name, "task_version": task.version, "model_dir": str(model_dir) if model_dir else None,
              "model_fingerprint": _model_fingerprint(model_dir) if task.needs_model(run) else None,
              "kind": kind, "model_args": model_args or {}, "data": str(run.data) if run.data else None,
              "data_sha256": file_sha256(run.data) if run.data else None,
              "hub": None if run.data else (run.hub or task.hub).__dict__, "limit": run.limit,
              "options": {k: str(v) for k, v in run.options.items()},
              "option_files_sha256": {k: file_sha256(v) for k, v in run.options.items()
                                      if isinstance(v, Path) and v.is_file()}}
    store = ResultStore(Path(store_root))
    if method is None:
        method = default_method_name(model_dir, run)
        log.info("storing as method %r (--method names it otherwise)", method)
    cell_task = cell_task_name(task, run)
    key = CellKey(store.root.name, family, method, cell_task, run.seed)
    if not force and store.is_done(key, config_hash({"cell": key.__dict__, **config})):
        log.info("%s: already stored with the same config; --force reruns it", key.label())
        write_leaderboard(store.root)
        return store.load(key)["metrics"]
    if not force:
        _refuse_replacing(store, key, {"cell": key.__dict__, **config})
    items = task.load(run)
    lm = None
    with CostMeter() as cost:
        if task.needs_model(run):
            from benchmark.eval.lm_eval_model import BenchARLM, BenchLM

            lm = (BenchLM if kind == "dllm" else BenchARLM)(str(model_dir), seed=run.seed, **(model_args or {}))
        metrics, samples = task.evaluate(lm, items, run)
    store_eval_cell(store, family, method, cell_task, run.seed, kind, metrics, samples, config, cost,
                    source=f"eval task {task.name}")
    write_leaderboard(store.root)
    return metrics


def _model_fingerprint(model_dir: Path) -> str:
    """Config and weight headers (not the weights: hashing GBs would cost as much as the evaluation)."""
    digest = hashlib.sha256()
    for f in sorted(Path(model_dir).iterdir()):
        if f.suffix == ".safetensors":
            digest.update(f.name.encode() + fingerprint(f).encode())
        elif f.name == "config.json":
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def evaluate_with_lm_eval(model_dir: str | Path, kind: str, tasks: list[str], include_path: str | Path | None,
                          store_root: str | Path, family: str, method: str, seed: int = 0,
                          limit: int | None = None, model_args: dict | None = None) -> dict[str, dict]:
    """Return {task: metrics}; write one record per task under ``store_root``."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM

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
    key = CellKey(store.root.name, family, method, task, seed)
    config = {"cell": key.__dict__, **config}
    record = {"schema": SCHEMA_VERSION, "cell": key.__dict__, "config_hash": config_hash(config),
              "config": config, "metrics": metrics, "main_metric": next(iter(metrics)),
              "n_eval": len(samples), "model_kind": kind, "info": {"source": source},
              "cost": {"align": {"wall_s": 0.0, "forward_passes": 0, "tokens": 0}, "eval": cost.to_dict()},
              "versions": package_versions(), "git_revision": git_revision(), "hardware": hardware(),
              "created": datetime.now(UTC).isoformat()}
    store.write(key, record, samples)
    return key


