"""The cell grid of a run: which (family, task, seed, method) cells a suite selects, what each depends on,
and how one cell is aligned, scored and stored. The executors (serial in ``runner.py``, Ray in
``ray_executor.py``) and the ``cell`` command (one cell under ``accelerate launch``) all run cells with
``run_cell``, so they write the same records.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark.core.api import REFERENCE_METHOD, AlignContext, FamilyContext, Method, Task
from benchmark.core.cost import CostMeter
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash
from benchmark.core.provenance import distributed_rank, git_revision, hardware, package_versions, source_of
from benchmark.core.registry import EVAL_TASKS, FAMILIES, METHODS, TASKS, RegistryError
from benchmark.core.store import OWNER_FILE, SCHEMA_VERSION, CellKey, ResultStore, SharedArtifacts, make_work_dir
from benchmark.eval.scoring import evaluate
from benchmark.harness.preference_cells import eval_cell_config, preference_origin, run_eval_cell
from benchmark.harness.suites import get_suite
from benchmark.models.tiny import default_cache_dir

log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    suite: str = "tiny"
    methods: list[str] | None = None
    tasks: list[str] | None = None
    seeds: int = 3
    out: Path = Path("results")
    force: bool = False
    rebuild: bool = False
    keep_models: bool = False
    cache_dir: Path | None = None
    method_configs: dict = field(default_factory=dict)  # method name -> Config instance
    executor: str = "serial"  # or "ray": every cell a Ray task (benchmark/harness/ray_executor.py)
    address: str | None = None  # a running Ray cluster (default: a local one)
    plugins: list[str] = field(default_factory=list)  # plugin files, loaded again by every Ray worker
    max_retries: int = 2  # Ray: a cell whose worker dies is retried this often, then reported
    data_dir: Path | None = None  # where eval files a suite names are looked up when not beside the suite file
    device: str = "auto"  # where a family the project builds trains (auto: a GPU when there is one)

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")
        if self.executor not in ("serial", "ray"):
            raise ValueError(f"--executor must be 'serial' or 'ray', got {self.executor!r}")


def resolve(names: list[str] | None, default: list[str], registry, flag: str) -> list[str]:
    """Validate all names at once so one message lists every unknown one."""
    names = list(default) if names is None else names
    unknown = [n for n in names if n not in registry]
    if unknown:
        described = []
        for name in unknown:
            close = difflib.get_close_matches(name, registry.names(), n=1)
            described.append(repr(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise RegistryError(f"{flag}: unknown {registry.kind}(s) {', '.join(described)}; "
                            f"choices: {', '.join(registry.names())}")
    if not names:
        raise RegistryError(f"{flag}: no {registry.kind}s selected")
    return names


@dataclass
class RunPlan:
    """Everything the cells of one run share: the suite, the selected methods and tasks, the store."""

    cfg: RunConfig
    suite: Any
    method_names: list[str]
    task_names: list[str]
    methods: dict[str, Method]
    tasks: dict[str, Task]
    store_root: Path
    pairs: dict = field(default_factory=dict)  # family name -> ModelPair, prepared once per process

    @property
    def cells(self) -> list[CellKey]:
        """In an order the serial executor may follow: a (family, task, seed)'s ``base`` cell first."""
        if self.suite.scores_eval_tasks:  # a model's cells side by side: it is trained once, scored by each task
            return [CellKey(self.suite.name, f, m, t, s) for f in self.suite.families for s in range(self.cfg.seeds)
                    for m in self.method_names for t in self.task_names]
        return [CellKey(self.suite.name, f, m, t, s) for f in self.suite.families for t in self.task_names
                for s in range(self.cfg.seeds) for m in self.method_names]

    def dependencies(self, key: CellKey) -> list[CellKey]:
        """Cells that must finish before ``key``: the base cell (its answers are the win rates' reference)
        and the selected cells whose shared work ``key``'s method reuses (``Method.reuses``)."""
        if key.method == REFERENCE_METHOD:
            return []
        before = [REFERENCE_METHOD] + [m for m in getattr(self.methods[key.method], "reuses", ())
                                       if m in self.method_names and m != REFERENCE_METHOD]
        return [dataclasses.replace(key, method=m) for m in before]

    def pair(self, family_name: str):
        """The family's (AR, DLLM) pair, prepared once per process; the AR-MAP compatibility of the two
        checkpoints is checked here, so a mismatched pair fails before any training."""
        if family_name not in self.pairs:
            from benchmark.align.transfer import check_pair

            corpus_tasks = [TASKS.get(n)() for n in self.suite.tasks if n in TASKS]
            cache = Path(self.cfg.cache_dir or default_cache_dir())
            origin = preference_origin(self) if self.suite.scores_eval_tasks else None
            pair = FAMILIES.get(family_name)().prepare(FamilyContext(
                corpus_tasks, cache, self.cfg.rebuild, preference=origin, n_heldout=self.suite.n_heldout,
                device=self.cfg.device))
            check_pair(pair.ar_path, pair.dllm_path)
            self.pairs[family_name] = pair
        return self.pairs[family_name]


def plan_run(cfg: RunConfig) -> RunPlan:
    """Validate the selection against the registries and the suite; nothing runs yet."""
    suite = get_suite(cfg.suite)
    method_names = resolve(cfg.methods, list(suite.methods or METHODS.names()), METHODS, "--methods")
    registry = EVAL_TASKS if suite.scores_eval_tasks else TASKS
    task_names = resolve(cfg.tasks, list(suite.tasks), registry, "--tasks")
    method_names = [REFERENCE_METHOD] + [m for m in method_names if m != REFERENCE_METHOD]
    methods: dict[str, Method] = {
        n: METHODS.get(n)(cfg.method_configs.get(n) or suite.method_config(METHODS.get(n))) for n in method_names}
    tasks: dict = {n: registry.get(n)() for n in task_names}
    return RunPlan(cfg, suite, method_names, task_names, methods, tasks, Path(cfg.out) / suite.name)


def cell_config(plan: RunPlan, key: CellKey) -> tuple[dict, str]:
    """What a cell's result depends on, and its hash (a cell is redone when it changes)."""
    if plan.suite.scores_eval_tasks:
        return eval_cell_config(plan, key)
    pair, method, task, suite = plan.pair(key.family), plan.methods[key.method], plan.tasks[key.task], plan.suite
    config = {
        "cell": asdict(key), "family_build": pair.build_hash, "sampler": asdict(pair.sampler),
        "method": {"name": key.method, "config": method.config_dict(), "source": source_of(type(method))},
        "task": {"name": key.task, "version": task.version},
        "budget": asdict(suite.budget), "sizes": {"train": suite.n_train, "heldout": suite.n_heldout,
                                                  "eval": suite.n_eval},
    }
    return config, config_hash(config)


def run_cell(plan: RunPlan, key: CellKey, force: bool | None = None) -> bool:
    """Align, score and store one cell unless a record with the same config exists; True if it ran.

    Under ``accelerate launch`` every rank trains (the trainers are data-parallel) and rank 0 alone
    scores and writes the record, so a multi-process cell writes what a one-process cell writes."""
    import torch

    from benchmark.models.generation import generate_answers

    store = ResultStore(plan.store_root)
    shared = SharedArtifacts(plan.store_root / "artifacts")
    config, cfg_hash = cell_config(plan, key)
    force = plan.cfg.force if force is None else force
    if not force and store.is_done(key, cfg_hash):
        return False
    if plan.suite.scores_eval_tasks:
        return run_eval_cell(plan, key, config, cfg_hash)
    pair, task, method = plan.pair(key.family), plan.tasks[key.task], plan.methods[key.method]
    data = task.build(key.seed, plan.suite.n_train, plan.suite.n_heldout, plan.suite.n_eval)
    main = distributed_rank() == 0
    base_samples = None
    if key.method != REFERENCE_METHOD and main:
        base_samples = store.samples(dataclasses.replace(key, method=REFERENCE_METHOD))
    workdir = make_work_dir(plan.store_root, f".work-{key.method}-")
    try:
        torch.manual_seed(key.seed)
        with CostMeter() as align_cost:
            ctx = AlignContext(pair, task, data, plan.suite.budget, key.seed, workdir, shared, align_cost)
            try:
                aligned = method.align(ctx)
            except (BenchmarkError, KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # a plugin's bug: name the method and the cell, keep the cause
                log.debug("traceback of %s", key.label(), exc_info=True)
                raise BenchmarkError(f"method {key.method!r} ({type(method).__module__}) failed in cell "
                                     f"{key.label()}: {type(exc).__name__}: {exc} (-v shows the traceback)"
                                     ) from exc
        if not main:
            return True
        with CostMeter() as eval_cost:
            answers = generate_answers(aligned, pair, [i.prompt for i in data.eval], key.seed)
        metrics, samples = evaluate(task, data.eval, answers, base_samples)
        record = {
            "schema": SCHEMA_VERSION, "cell": asdict(key), "config_hash": cfg_hash, "config": config,
            "metrics": metrics, "main_metric": task.metrics[0].name, "n_eval": len(data.eval),
            "model_kind": aligned.kind, "info": aligned.info,
            "cost": {"align": align_cost.to_dict(), "eval": eval_cost.to_dict()},
            "versions": package_versions(), "git_revision": git_revision(), "hardware": hardware(),
            "created": datetime.now(UTC).isoformat(),
        }
        store.write(key, record, samples)
        name = task.metrics[0].name
        log.info("%s: %s=%.1f win=%s (%.1fs)", key.label(), name, metrics[name]["value"],
                 f"{metrics['win_rate']['value']:.1f}" if "win_rate" in metrics else "-", align_cost.wall_s)
        return True
    finally:
        if plan.cfg.keep_models and main:
            (workdir / OWNER_FILE).unlink(missing_ok=True)
            keep = plan.store_root / "models" / key.label()
            shutil.rmtree(keep, ignore_errors=True)
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(workdir), keep)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
