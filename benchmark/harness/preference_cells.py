"""Cells of a suite scored by eval tasks: each method is trained once per (family, seed) on the suite's
``[preference]`` data, and the aligned model is scored by every eval task (one record per task).

The training pairs come through a ``benchmark.preference_data`` plugin (a file or a hub dataset), are split
deterministically per seed (held-out first, for gamma selection; then the budget's steps x batch pairs) and
cut to the budget's token limits by ``fit_to_budget``'s stated rule; the counts (kept, truncated, dropped)
are recorded in every cell. Prompts are rendered with the tokenizer's chat template (the whole history).

The aligned model is shared work (``SharedArtifacts``): built once, reused by the eval tasks' cells, and
removed when its last cell is stored unless ``--keep-models``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from benchmark.core.api import REFERENCE_METHOD, AlignContext, AlignedModel, PreferencePair, TaskData
from benchmark.core.cost import CostMeter
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, file_sha256
from benchmark.core.preference_data import HubDataset, PreferenceOrigin, fit_to_budget, select
from benchmark.core.provenance import distributed_rank, git_revision, hardware, package_versions, source_of
from benchmark.core.store import SCHEMA_VERSION, CellKey, ResultStore, SharedArtifacts, atomic_write_text
from benchmark.eval.eval_task import EvalRun, chat
from benchmark.models.loading import load_tokenizer

log = logging.getLogger(__name__)
# ``plan`` below is the run's ``benchmark.harness.grid.RunPlan`` (not imported: grid imports this module).


class PreferenceTask:
    """What methods see as ``ctx.task`` when a suite trains on preference data (a name and a version)."""

    def __init__(self, suite) -> None:
        spec = suite.preference
        self.name = f"pref-{spec.format}"
        self.version = config_hash(asdict(spec))[:8]


def _file_digest(path: str | None) -> str | None:
    return file_sha256(path) if path and Path(path).is_file() else None


def _unit_config(plan, key: CellKey) -> dict:
    """What the trained model depends on (shared by the eval tasks' cells of one (family, method, seed))."""
    pair, method, suite = plan.pair(key.family), plan.methods[key.method], plan.suite
    return {"family": key.family, "family_build": pair.build_hash, "method": {
        "name": key.method, "config": method.config_dict(), "source": source_of(type(method))},
        "seed": key.seed, "budget": asdict(suite.budget), "preference": asdict(suite.preference),
        "preference_source": preference_origin(plan).identity(), "n_heldout": suite.n_heldout}


def _find(name: str, data_dir) -> Path | None:
    """A file a suite names: as given (already resolved beside the suite file), else under --data-dir."""
    path = Path(name)
    if not path.exists() and not path.is_absolute() and data_dir:
        path = Path(data_dir) / path
    return path if path.is_file() else None


def _missing(plan, table: str, name: str) -> BenchmarkError:
    under = f" and under --data-dir {plan.cfg.data_dir}" if plan.cfg.data_dir else ""
    return BenchmarkError(f"{plan.suite.source}: {table} {name!r}: no such file (looked beside the suite file{under})")


def preference_origin(plan) -> PreferenceOrigin:
    """The suite's training pairs: its file when found, else (no --data-dir given) its hub dataset."""
    spec = plan.suite.preference
    hub = HubDataset(spec.hub, spec.hub_config, spec.hub_split, spec.hub_data_dir) if spec.hub else None
    if spec.path:
        found = _find(spec.path, plan.cfg.data_dir)
        if found is not None:
            return PreferenceOrigin(spec.format, found, None)
        if hub is None or plan.cfg.data_dir:
            raise _missing(plan, "[preference] path", spec.path)
    return PreferenceOrigin(spec.format, None, hub)


def eval_data(plan, spec, task=None) -> Path | None:
    """An eval task's file when found (see ``preference_origin``); None: the task's hub dataset."""
    if spec.data is None:
        return None
    found = _find(spec.data, plan.cfg.data_dir)
    if found is None and (plan.cfg.data_dir or task is None or task.hub is None):
        raise _missing(plan, "[eval.*] data", spec.data)
    return found


def eval_cell_config(plan, key: CellKey) -> tuple[dict, str]:
    spec = plan.suite.eval_spec(key.task)
    task = plan.tasks[key.task]
    data = eval_data(plan, spec, task)
    config = {"cell": asdict(key), "unit": _unit_config(plan, key), "sampler": asdict(plan.pair(key.family).sampler),
              "task": {"name": key.task, "version": task.version, "data": data.name if data else None,
                       "data_sha256": _file_digest(str(data) if data else None), "limit": spec.limit,
                       "hub": None if data else asdict(task.hub) if task.hub else None,
                       "options": {k: str(v) for k, v in spec.options},
                       **({"model_args": dict(spec.model_args)} if spec.model_args else {})}}
    return config, config_hash(config)


def preference_data(plan, pair, seed: int) -> tuple[TaskData, dict]:
    """The seed's training and held-out pairs, rendered with the DLLM's chat template and cut to the budget."""
    spec, suite = plan.suite.preference, plan.suite
    skipped: dict = {}
    pairs = preference_origin(plan).load(skipped)
    train, heldout = select(pairs, suite.n_train, suite.n_heldout, seed)
    tok = load_tokenizer(pair.dllm_path)
    counts = {}
    fitted = {}
    for name, part in (("train", train), ("heldout", heldout)):
        kept, c = fit_to_budget(part, tok, spec.max_prompt_tokens, spec.max_response_tokens)
        fitted[name] = [PreferencePair(p.render(tok), p.chosen, p.rejected) for p in kept]
        counts[name] = {"kept": c.kept, "prompt_truncated": c.prompt_truncated,
                        "response_truncated": c.response_truncated, "dropped_identical": c.dropped_identical}
    counts["skipped_rows"] = dict(skipped)
    if not fitted["train"]:
        raise BenchmarkError(f"{preference_origin(plan).describe()}: no training pair is left after the budget's "
                             "token limits")
    return TaskData(fitted["train"], fitted["heldout"], []), counts


def aligned_model(plan, key: CellKey) -> tuple[AlignedModel, dict]:
    """Train (or reuse) the method's model of this (family, seed): the shared artifact ``aligned-METHOD``."""
    pair = dataclasses.replace(plan.pair(key.family), chat_prompt="{prompt}")  # prompts arrive rendered
    shared = SharedArtifacts(plan.store_root / "artifacts")
    method = plan.methods[key.method]

    def build(tmp: Path) -> dict:
        import torch

        data, counts = preference_data(plan, pair, key.seed)
        torch.manual_seed(key.seed)
        with CostMeter() as cost:
            ctx = AlignContext(pair, PreferenceTask(plan.suite), data, plan.suite.budget, key.seed, tmp,
                               shared, cost)
            try:
                aligned = method.align(ctx)
            except (BenchmarkError, KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                raise BenchmarkError(f"method {key.method!r} failed training on {plan.suite.preference.format} "
                                     f"data ({key.family}, seed {key.seed}): {type(exc).__name__}: {exc}") from exc
        inside = Path(aligned.path).resolve().is_relative_to(tmp.resolve())
        return {"path": str(Path(aligned.path).resolve().relative_to(tmp.resolve())) if inside else str(aligned.path),
                "inside": inside, "kind": aligned.kind, "info": aligned.info, "data": counts,
                "cost": cost.to_dict()}

    unit = dataclasses.replace(key, task="*")
    folder, meta = shared.get_or_build(f"aligned-{key.method}", _unit_config(plan, unit), build)
    path = folder / meta["path"] if meta["inside"] else Path(meta["path"])
    return AlignedModel(path, meta["kind"], meta["info"]), {**meta, "folder": str(folder)}


def sampler_model_args(sampler) -> dict:
    """The family's DLLM decoding settings as the lm-eval model class's arguments."""
    return {"steps": sampler.steps, "block_length": sampler.block_length, "temperature": sampler.temperature,
            "top_p": sampler.top_p, "order": sampler.order, "threshold": sampler.threshold, "cache": sampler.cache}


def run_eval_cell(plan, key: CellKey, config: dict, cfg_hash: str) -> bool:
    """Score the method's model of (family, seed) with one eval task and store the record (rank 0)."""
    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM

    aligned, meta = aligned_model(plan, key)
    if distributed_rank() != 0:
        return True
    task, spec, pair = plan.tasks[key.task], plan.suite.eval_spec(key.task), plan.pair(key.family)
    run = EvalRun(data=eval_data(plan, spec, task), limit=spec.limit, seed=key.seed,
                  options=task.resolve_options({k: str(v) for k, v in spec.options}))
    pairwise = "base" in task.options and run.options.get("base") is None
    reference = base_answers_file(plan, key)
    if pairwise and key.method != REFERENCE_METHOD:  # the base row's answers of this run are the reference
        if not reference.is_file():
            raise BenchmarkError(f"{key.label()}: the base cell's answers {reference} are missing; the base "
                                 "cell of the same (family, task, seed) runs first (run it, or rerun the suite)")
        run.options["base"] = reference
    elif pairwise:
        run.options["base"] = None  # set below, once the base model has answered
    if not pairwise or key.method != REFERENCE_METHOD:
        task.validate(run)
    items = task.load(run)
    with CostMeter() as eval_cost:
        args = {**sampler_model_args(pair.sampler), **dict(spec.model_args)} if aligned.kind == "dllm" else {}
        lm = (BenchLM if aligned.kind == "dllm" else BenchARLM)(str(aligned.path), seed=key.seed, **args)
        if pairwise and key.method == REFERENCE_METHOD:
            _write_base_answers(lm, task, items, run, reference)
            run.options.update(base=reference, answers=reference)  # judged against itself: the 50% anchor
            task.validate(run)
        metrics, samples = task.evaluate(lm, items, run)
    samples = with_item_scores(samples, next(iter(metrics)))
    record = {"schema": SCHEMA_VERSION, "cell": asdict(key), "config_hash": cfg_hash, "config": config,
              "metrics": metrics, "main_metric": next(iter(metrics)), "n_eval": len(items),
              "model_kind": aligned.kind, "info": {**aligned.info, "preference_data": meta["data"]},
              "cost": {"align": meta["cost"], "eval": eval_cost.to_dict()},
              "versions": package_versions(), "git_revision": git_revision(), "hardware": hardware(),
              "created": datetime.now(UTC).isoformat()}
    ResultStore(plan.store_root).write(key, record, samples)
    log.info("%s: %s=%.1f", key.label(), record["main_metric"], metrics[record["main_metric"]]["value"])
    _drop_model_when_scored(plan, key, Path(meta["folder"]))
    return True


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


def base_answers_file(plan, key: CellKey) -> Path:
    """Where the base row's answers to a pairwise task are kept: the other rows' reference."""
    return plan.store_root / "artifacts" / "base-answers" / f"{key.family}-{key.task}-seed{key.seed}.jsonl"


def _write_base_answers(lm, task, items: list, run: EvalRun, path: Path) -> None:
    from benchmark.eval.lm_eval_model import Request

    kwargs = {"until": [], "max_gen_toks": run.options.get("max_new_tokens", 512)}
    outputs = lm.generate_until([Request(chat(lm, p), kwargs) for p in items])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps({"instruction": p, "output": o}) + "\n" for p, o in zip(items, outputs)))


def _drop_model_when_scored(plan, key: CellKey, folder: Path) -> None:
    """Remove the aligned model once every eval task of its (family, method, seed) is stored. Not under
    ``accelerate launch``: a slower rank may still be about to look the model up (it would wait for it)."""
    if plan.cfg.keep_models or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return
    store = ResultStore(plan.store_root)
    for task in plan.task_names:
        other = dataclasses.replace(key, task=task)
        if not store.is_done(other, eval_cell_config(plan, other)[1]):
            return
    shutil.rmtree(folder, ignore_errors=True)
