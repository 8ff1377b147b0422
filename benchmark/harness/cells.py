"""Cells: a model scored by an eval task, stored as one record. One path writes every record.

``run_unit`` is a suite's unit of work, (family, method, training set, seed): the method is trained once
(shared work ``aligned-METHOD``, reused by the unit's records, removed once they are stored unless
``--keep-models``) and the model is scored by each eval task the training set scores. ``score_checkpoint``
and ``score_with_lm_eval`` score a finished checkpoint for the ``eval`` command. All three write records
with ``write_record``: config, metrics, per-item samples (``prompt`` + ``scores``, which the leaderboard's
paired bootstrap reads), cost, versions, git revision, hardware.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from benchmark.align.checkpoint import Checkpoint
from benchmark.core.api import REFERENCE_METHOD, AlignContext, AlignedModel
from benchmark.core.cost import CostMeter
from benchmark.core.data import check_input_file
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, file_sha256
from benchmark.core.provenance import distributed_rank, git_revision, hardware, package_versions
from benchmark.core.registry import EVAL_TASKS
from benchmark.core.store import SCHEMA_VERSION, CellKey, ResultStore, SharedArtifacts, atomic_write_text
from benchmark.eval.eval_task import EvalRun, EvalTask, chat
from benchmark.harness.grid import RunPlan, Unit, base_answers, missing_cells, unit_config
from benchmark.harness.leaderboard import write_leaderboard
from benchmark.harness.training_sets import training_pairs, training_set

log = logging.getLogger(__name__)
NO_ALIGNMENT = {"wall_s": 0.0, "forward_passes": 0, "tokens": 0}


# ----------------------------------------------------------------------------------------------- records
def with_item_scores(samples: list[dict], main: str) -> list[dict]:
    """Each sample with ``prompt`` and ``scores`` {main metric: value in [0, 1]}, the per-item form the
    leaderboard's paired statistics read (eval tasks name the item and its score in their own fields:
    ``question``/``prompt``, ``mc2``, ``prompt_level_strict_acc``, a list of per-answer ``scores``)."""
    out = []
    for s in samples:
        if isinstance(s.get("scores"), dict) and isinstance(s.get("prompt"), str):
            out.append(s)
            continue
        prompt = next((s[k] for k in ("prompt", "question", "instruction") if isinstance(s.get(k), str)), None)
        value = s.get(main)
        if value is None and isinstance(s.get("scores"), list) and s["scores"]:
            values = [r.get(main) for r in s["scores"] if isinstance(r, dict)]
            value = sum(float(v) for v in values) / len(values) if values and None not in values else None
        if prompt is None or not isinstance(value, int | float):
            return samples  # not an item-scored task: the leaderboard falls back to seed intervals
        out.append({**s, "prompt": prompt, "scores": {main: float(value)},
                    **({"answer_scores": s["scores"]} if isinstance(s.get("scores"), list) else {})})
    return out


def write_record(store: ResultStore, key: CellKey, config: dict, metrics: dict, samples: list[dict], kind: str,
                 info: dict, align_cost: dict, eval_cost: CostMeter) -> dict:
    """Store one cell: the one record schema every command writes."""
    main = next(iter(metrics))
    record = {"schema": SCHEMA_VERSION, "cell": asdict(key), "config_hash": config_hash(config), "config": config,
              "metrics": metrics, "main_metric": main, "n_eval": len(samples), "model_kind": kind, "info": info,
              "cost": {"align": align_cost, "eval": eval_cost.to_dict()},
              "versions": package_versions(), "git_revision": git_revision(), "hardware": hardware(),
              "created": datetime.now(UTC).isoformat()}
    store.write(key, record, with_item_scores(samples, main))
    return record


def load_lm(path, kind: str, seed: int, **model_args):
    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM

    return (BenchLM if kind == "dllm" else BenchARLM)(str(path), seed=seed, **model_args)


# ----------------------------------------------------------------------------------------------- a unit
def aligned_model(plan: RunPlan, unit: Unit) -> tuple[AlignedModel, dict]:
    """Train (or reuse) the unit's model: the shared artifact ``aligned-METHOD``, keyed by the unit's config."""
    shared = SharedArtifacts(plan.store_root / "artifacts")
    method, spec = plan.methods[unit.method], plan.suite.training_set(unit.train)

    def build(tmp: Path) -> dict:
        import torch

        data, counts, pair = training_pairs(plan.suite, spec, plan.pair(unit.family), unit.seed, plan.cfg.data_dir)
        torch.manual_seed(unit.seed)
        with CostMeter() as cost:
            ctx = AlignContext(pair, training_set(spec), data, plan.suite.budget, unit.seed, tmp, shared, cost)
            try:
                aligned = method.align(ctx)
            except (BenchmarkError, KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # a plugin's bug: name the method and the unit, keep the cause
                log.debug("traceback of %s", unit.label(), exc_info=True)
                raise BenchmarkError(f"method {unit.method!r} ({type(method).__module__}) failed in "
                                     f"{unit.label()}: {type(exc).__name__}: {exc} (-v shows the traceback)") from exc
        inside = Path(aligned.path).resolve().is_relative_to(tmp.resolve())
        return {"path": str(Path(aligned.path).resolve().relative_to(tmp.resolve())) if inside else str(aligned.path),
                "inside": inside, "kind": aligned.kind, "info": aligned.info, "data": counts, "cost": cost.to_dict()}

    folder, meta = shared.get_or_build(f"aligned-{unit.method}", unit_config(plan, unit), build)
    path = folder / meta["path"] if meta["inside"] else Path(meta["path"])
    return AlignedModel(path, meta["kind"], meta["info"]), {**meta, "folder": str(folder)}


def run_unit(plan: RunPlan, unit: Unit, force: bool | None = None) -> bool:
    """Train the unit's model and store a record per eval task unless each is stored with the same config;
    True if anything ran. Under ``accelerate launch`` every rank trains (the trainers are data-parallel) and
    rank 0 alone scores and writes, so a multi-process unit writes what a one-process unit writes."""
    todo = missing_cells(plan, unit, plan.cfg.force if force is None else force)
    if not todo:
        return False
    aligned, meta = aligned_model(plan, unit)
    if distributed_rank() != 0:
        return True
    store = ResultStore(plan.store_root)
    for task_name, key, config, _ in todo:
        with CostMeter() as eval_cost:
            metrics, samples, n_items = _score(plan, unit, task_name, key, aligned)
        info = {**aligned.info, "train": unit.train, "training_data": meta["data"]}
        write_record(store, key, config, metrics, samples, aligned.kind, info, meta["cost"], eval_cost)
        main = next(iter(metrics))
        win = metrics.get("win_rate", {}).get("value")
        log.info("%s: %s=%.1f%s on %d items (%.1fs aligning)", key.label(), main, metrics[main]["value"],
                 f" win={win:.1f}" if win is not None else "", n_items, meta["cost"]["wall_s"])
    if not plan.cfg.keep_models and int(os.environ.get("WORLD_SIZE", "1")) == 1 and not missing_cells(plan, unit):
        # Not under accelerate launch: a slower rank may still be about to look the model up
        shutil.rmtree(meta["folder"], ignore_errors=True)
    return True


def _score(plan: RunPlan, unit: Unit, task_name: str, key: CellKey, aligned: AlignedModel):
    """(metrics, samples, items) of the unit's model on one eval task. A win-rate reference is the base row's
    samples of the same (family, task, seed); a pairwise task is judged against the base row's answers."""
    task, spec, pair = plan.tasks[task_name], plan.suite.eval_spec(task_name), plan.pair(unit.family)
    run = plan.eval_run(unit, task_name)
    store = ResultStore(plan.store_root)
    base_key = dataclasses.replace(key, method=REFERENCE_METHOD)
    if unit.method != REFERENCE_METHOD and store.load(base_key) is not None:
        run.reference = store.samples(base_key)
    answers = base_answers(plan, unit, task_name)
    pairwise = answers is not None
    if pairwise and unit.method != REFERENCE_METHOD:
        if not answers.is_file():
            raise BenchmarkError(f"{key.label()}: the base row's answers {answers} are missing; the base unit of the "
                                 "same (family, training set, seed) runs first (rerun the suite; --force redoes it)")
        run.options["base"] = answers
    if not pairwise or unit.method != REFERENCE_METHOD:
        task.validate(run)
    items = task.load(run)
    args = {**_sampler_args(pair.sampler), **dict(spec.model_args)} if aligned.kind == "dllm" else {}
    lm = load_lm(aligned.path, aligned.kind, unit.seed, **args)
    if pairwise and unit.method == REFERENCE_METHOD:
        _write_base_answers(lm, items, run, answers)
        run.options.update(base=answers, answers=answers)  # judged against itself: the 50% anchor
        task.validate(run)
    metrics, samples = task.evaluate(lm, items, run)
    return metrics, samples, len(items)


def _sampler_args(sampler) -> dict:
    """The family's DLLM decoding settings as the lm-eval model class's arguments."""
    return {"steps": sampler.steps, "block_length": sampler.block_length, "temperature": sampler.temperature,
            "top_p": sampler.top_p, "order": sampler.order, "threshold": sampler.threshold, "cache": sampler.cache}


def _write_base_answers(lm, items: list, run: EvalRun, path: Path) -> None:
    from benchmark.eval.lm_eval_model import Request

    kwargs = {"until": [], "max_gen_toks": run.options.get("max_new_tokens", 512)}
    outputs = lm.generate_until([Request(chat(lm, p), kwargs) for p in items])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps({"instruction": p, "output": o}) + "\n" for p, o in zip(items, outputs)))


# ----------------------------------------------------------------------------------------------- a checkpoint
def cell_task_name(task: EvalTask, run: EvalRun) -> str:
    """The task part of a checkpoint cell's identity: the name plus every setting that changes what is
    measured (``alpacaeval[protocol=armap,judge=openai]``, ``gsm8k[samples=1,limit=50]``), so two protocols
    (or a subset and the whole set) are two cells side by side on the leaderboard."""
    parts = [f"{name}={run.options[name]}" for name in task.identity_options
             if name in run.options and run.options[name] != task.options[name].default]
    if run.limit:
        parts.append(f"limit={run.limit}")
    return f"{task.name}[{','.join(parts)}]" if parts else task.name


def default_method_name(model_dir: Path | None, run: EvalRun) -> str:
    """The leaderboard row of a checkpoint cell when ``--method`` is not given: the checkpoint folder's name
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


def _model_fingerprint(model_dir: Path) -> str:
    """The weights' fingerprint (shard headers, sizes, mtimes: not the data, whose hash costs as much as the
    evaluation) and the config."""
    return config_hash({"weights": Checkpoint(model_dir).fingerprint(),
                        "config": file_sha256(Path(model_dir) / "config.json")})


def score_checkpoint(task_name: str, model_dir: Path | None, kind: str, run: EvalRun, store_root: Path,
                     family: str, method: str | None, model_args: dict | None = None,
                     force: bool = False) -> dict[str, dict]:
    """``eval --task``: load the items, build the model, evaluate, and store one cell (family, method, task,
    seed). A cell stored with the same config (task version, options, model and data fingerprints) is
    returned as it is unless ``force``; one stored with another config is an error unless ``force``."""
    task: EvalTask = EVAL_TASKS.get(task_name)()
    if run.data is not None:
        check_input_file(run.data)
    task.validate(run)
    if task.needs_model(run):  # checked before any data is loaded or downloaded
        if model_dir is None:
            raise BenchmarkError(f"task {task.name!r} needs --model-dir (a checkpoint folder)")
        if not Path(model_dir).is_dir():
            raise BenchmarkError(f"--model-dir {model_dir}: no such folder")
        if kind not in ("ar", "dllm"):
            raise BenchmarkError(f"--kind must be 'ar' or 'dllm', got {kind!r}")
    store = ResultStore(Path(store_root))
    if method is None:
        method = default_method_name(model_dir, run)
        log.info("storing as method %r (--method names it otherwise)", method)
    key = CellKey(store.root.name, family, method, cell_task_name(task, run), run.seed)
    config = {"cell": asdict(key), "task": task.name, "task_version": task.version,
              "model_dir": str(model_dir) if model_dir else None,
              "model_fingerprint": _model_fingerprint(model_dir) if task.needs_model(run) else None,
              "kind": kind, "model_args": model_args or {}, "data": str(run.data) if run.data else None,
              "data_sha256": file_sha256(run.data) if run.data else None,
              "hub": None if run.data else (run.hub or task.hub).__dict__, "limit": run.limit,
              "options": {k: str(v) for k, v in run.options.items()},
              "option_files_sha256": {k: file_sha256(v) for k, v in run.options.items()
                                      if isinstance(v, Path) and v.is_file()}}
    if not force and store.is_done(key, config_hash(config)):
        log.info("%s: already stored with the same config; --force reruns it", key.label())
        write_leaderboard(store.root)
        return store.load(key)["metrics"]
    if not force:
        _refuse_replacing(store, key, config)
    items = task.load(run)
    with CostMeter() as cost:
        lm = load_lm(model_dir, kind, run.seed, **(model_args or {})) if task.needs_model(run) else None
        metrics, samples = task.evaluate(lm, items, run)
    write_record(store, key, config, metrics, samples, kind, {"source": f"eval task {task.name}"}, NO_ALIGNMENT,
                 cost)
    write_leaderboard(store.root)
    return metrics


def score_with_lm_eval(model_dir: str | Path, kind: str, tasks: list[str], include_path: str | Path | None,
                       store_root: str | Path, family: str, method: str, seed: int = 0,
                       limit: int | None = None, model_args: dict | None = None) -> dict[str, dict]:
    """``eval --lm-eval``: lm-eval tasks on a checkpoint, one cell ``lm-eval__<task>`` per task with lm-eval's
    metrics in percent and their standard errors; returns {task: metrics}."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    if kind not in ("ar", "dllm"):
        raise ValueError(f"--kind must be 'ar' or 'dllm', got {kind!r}")
    model_args = dict(model_args or {})
    manager = TaskManager(include_path=str(include_path), include_defaults=False) if include_path else TaskManager()
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:  # before the model loads
        hints = [t + "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(t, manager.all_tasks, n=1))
                 for t in unknown]
        raise BenchmarkError(f"--lm-eval: unknown lm-eval task(s) {', '.join(hints)}"
                             + (f" under --include-path {include_path}" if include_path else ""))
    with CostMeter() as cost:
        lm = load_lm(model_dir, kind, seed, **model_args)
        results = simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit, log_samples=True,
                                  random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
                                  fewshot_random_seed=seed)
    store = ResultStore(Path(store_root))
    out = {}
    for task in tasks:
        raw = results["results"][task]
        metrics = {}
        for name_filter, value in raw.items():
            name, _, flt = name_filter.partition(",")
            if name.endswith("_stderr") or name in ("alias", "sample_len") or not isinstance(value, int | float):
                continue
            stderr = raw.get(f"{name}_stderr,{flt}")
            label = name if flt in ("", "none") else f"{name}:{flt}"
            metrics[label] = {"value": 100 * value,
                              "stderr": 100 * stderr if isinstance(stderr, int | float) and math.isfinite(stderr)
                              else None, "display": label, "higher_is_better": True}
        if not metrics:
            raise ValueError(f"lm-eval returned no numeric metric for task {task!r}: {raw}")
        key = CellKey(store.root.name, family, method, f"lm-eval__{task}", seed)
        config = {"cell": asdict(key), "model_dir": str(model_dir), "kind": kind, "model_args": model_args,
                  "lm_eval_task": task, "limit": limit, "task_config": results["configs"].get(task, {}),
                  "task_version": results.get("versions", {}).get(task)}
        samples = [{"doc": s.get("doc"), "target": s.get("target"), "response": s.get("filtered_resps"),
                    "metrics": {m: s.get(m) for m in raw if m.split(",")[0] in s}}
                   for s in results.get("samples", {}).get(task, [])]
        write_record(store, key, config, metrics, samples, kind, {"source": "lm-eval"}, NO_ALIGNMENT, cost)
        out[task] = metrics
    write_leaderboard(store.root)
    return out
