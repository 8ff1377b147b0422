"""The plan of a run: which units a suite selects, which records each writes, and what each depends on.

A suite is training sets x eval tasks. A **unit** is (family, method, training set, seed): the method is
trained once on the set's pairs and the model is scored by every selected eval task the set scores, one
record (a *cell*, keyed by ``CellKey``) per task. The executors (serial in ``runner.py``, Ray in
``ray_executor.py``) and the ``cell`` command (one unit under ``accelerate launch``) all run units with
``cells.run_unit``, so they write the same records.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.api import REFERENCE_METHOD, FamilyContext, Method
from benchmark.core.hashing import config_hash
from benchmark.core.provenance import source_of
from benchmark.core.registry import EVAL_TASKS, FAMILIES, METHODS, TASKS, RegistryError
from benchmark.core.store import CellKey, ResultStore, check_output_dir
from benchmark.eval.eval_task import EvalRun, EvalTask
from benchmark.eval.synthetic import SyntheticEvalTask
from benchmark.harness.suites import builtin_suite_files, get_suite
from benchmark.harness.training_sets import (
    eval_data,
    evaluation_pairs,
    file_digest,
    preference_origin,
    source_identity,
)
from benchmark.models.tiny import default_cache_dir


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
    executor: str = "serial"  # or "ray": every unit a Ray task (benchmark/harness/ray_executor.py)
    address: str | None = None  # a running Ray cluster (default: a local one)
    plugins: list[str] = field(default_factory=list)  # plugin files, loaded again by every Ray worker
    max_retries: int = 2  # Ray: a unit whose worker dies is retried this often, then reported
    data_dir: Path | None = None  # where files a suite names are looked up when not beside the suite file
    device: str = "auto"  # where a family the project builds trains (auto: a GPU when there is one)

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")
        if self.executor not in ("serial", "ray"):
            raise ValueError(f"--executor must be 'serial' or 'ray', got {self.executor!r}")


@dataclass(frozen=True)
class Unit:
    """One model to train and score: (family, method, training set, seed)."""

    suite: str
    family: str
    method: str
    train: str
    seed: int

    def label(self) -> str:
        return f"{self.family}/{self.method}/{self.train}/seed{self.seed}"


def resolve(names: list[str] | None, default: list[str], choices: list[str], kind: str, flag: str) -> list[str]:
    """Validate all names at once so one message lists every unknown one."""
    names = list(default) if names is None else names
    unknown = [n for n in names if n not in choices]
    if unknown:
        described = [repr(n) + "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(n, choices, n=1))
                     for n in unknown]
        raise RegistryError(f"{flag}: unknown {kind}(s) {', '.join(described)}; choices: {', '.join(choices)}")
    if not names:
        raise RegistryError(f"{flag}: no {kind}s selected")
    return names


def eval_task(name: str) -> EvalTask:
    """The eval task of a suite task's name: a registered eval task, or a synthetic task's eval half."""
    return SyntheticEvalTask(TASKS.get(name)()) if name in TASKS else EVAL_TASKS.get(name)()


@dataclass
class RunPlan:
    """Everything the units of one run share: the suite, the selected methods and tasks, the store."""

    cfg: RunConfig
    suite: Any
    method_names: list[str]
    task_names: list[str]
    methods: dict[str, Method]
    tasks: dict[str, EvalTask]
    store_root: Path
    pairs: dict = field(default_factory=dict)  # family name -> ModelPair, prepared once per process
    evaluation: dict = field(default_factory=dict)  # (family, training set) -> its evaluation pairs and origin

    @property
    def train_names(self) -> list[str]:
        """The training sets that score at least one selected task."""
        return [t.name for t in self.suite.train if set(t.scores) & set(self.task_names)]

    @property
    def units(self) -> list[Unit]:
        """In an order the serial executor may follow: a (family, training set, seed)'s ``base`` unit first."""
        return [Unit(self.suite.name, f, m, t, s) for f in self.suite.families for t in self.train_names
                for s in range(self.cfg.seeds) for m in self.method_names]

    def tasks_of(self, unit: Unit) -> list[str]:
        return [t for t in self.suite.training_set(unit.train).scores if t in self.task_names]

    def cell_key(self, unit: Unit, task: str) -> CellKey:
        return CellKey(unit.suite, unit.family, unit.method, self.suite.record_task(task, unit.train), unit.seed)

    @property
    def cells(self) -> list[CellKey]:
        return [self.cell_key(u, t) for u in self.units for t in self.tasks_of(u)]

    def dependencies(self, unit: Unit) -> list[Unit]:
        """Units that must finish before ``unit``: the base unit (its answers are the win rates' reference)
        and the selected units whose shared work ``unit``'s method reuses (``Method.reuses``)."""
        if unit.method == REFERENCE_METHOD:
            return []
        before = [REFERENCE_METHOD] + [m for m in getattr(self.methods[unit.method], "reuses", ())
                                       if m in self.method_names and m != REFERENCE_METHOD]
        return [dataclasses.replace(unit, method=m) for m in before]

    def pair(self, family_name: str):
        """The family's (AR, DLLM) pair, prepared once per process; the AR-MAP compatibility of the two
        checkpoints is checked here, so a mismatched pair fails before any training. A family adapted on
        text (``smol``) trains on the suite's first file-or-hub training set, leaving its held-out and evaluation
        pairs out."""
        if family_name not in self.pairs:
            from benchmark.align.transfer import check_pair

            corpus_tasks = [TASKS.get(n)() for n in self.suite.tasks if n in TASKS]
            cache = Path(self.cfg.cache_dir or default_cache_dir())
            text = self.suite.data_sets[0] if self.suite.data_sets else None
            origin = preference_origin(self.suite, text, self.cfg.data_dir) if text else None
            pair = FAMILIES.get(family_name)().prepare(FamilyContext(
                corpus_tasks, cache, self.cfg.rebuild, preference=origin,
                n_heldout=text.n_heldout + text.n_eval_pairs if text else 0,
                device=self.cfg.device))
            check_pair(pair.ar_path, pair.dllm_path)
            self.pairs[family_name] = pair
        return self.pairs[family_name]

    def eval_run(self, unit: Unit, task_name: str) -> EvalRun:
        """The eval task's data, limit, options and seed in this suite (the family pair set for decoding)."""
        task, spec = self.tasks[task_name], self.suite.eval_spec(task_name)
        options = {k: str(v) for k, v in spec.options}
        limit = spec.limit
        if isinstance(task, SyntheticEvalTask):  # its eval split follows the suite's training draws
            options.update(n_train=str(self.suite.n_train), n_heldout=str(self.suite.n_heldout))
            limit = self.suite.n_eval
        if "beta" in task.options and "beta" not in options:  # an implicit reward's beta is the budget's
            options["beta"] = str(self.suite.budget.beta)
        run = EvalRun(data=eval_data(self.suite, spec, task, self.cfg.data_dir), limit=limit, seed=unit.seed,
                      options=task.resolve_options(options), family=self.pair(unit.family))
        if task.scores_training_pairs:  # read, cut and rendered once per (family, training set) in a process
            key = (unit.family, unit.train)
            if key not in self.evaluation:
                self.evaluation[key] = evaluation_pairs(self.suite, self.suite.training_set(unit.train), run.family,
                                                        self.cfg.data_dir)
            run.pairs, run.pairs_origin = self.evaluation[key]
        return run


def suite_source(suite) -> str:
    """Where a suite comes from, as its result folder records it: a built-in file by its name, else the
    resolved path of the user's file (or ``python`` for a suite registered in code)."""
    builtin = {str(p.resolve()) for p in builtin_suite_files()}
    if suite.source == "python" or str(Path(suite.source).resolve()) in builtin:
        return f"built-in suite {suite.name}" if suite.source != "python" else f"python suite {suite.name}"
    return str(Path(suite.source).resolve())


def plan_run(cfg: RunConfig) -> RunPlan:
    """Validate the selection against the registries and the suite, and find every file the suite names
    (an error names the file, table and key); nothing runs yet."""
    suite = get_suite(cfg.suite)
    method_names = resolve(cfg.methods, list(suite.methods or METHODS.names()), METHODS.names(), "method",
                           "--methods")
    task_names = resolve(cfg.tasks, list(suite.tasks), list(suite.tasks), "task", "--tasks")
    method_names = [REFERENCE_METHOD] + [m for m in method_names if m != REFERENCE_METHOD]
    methods: dict[str, Method] = {
        n: METHODS.get(n)(cfg.method_configs.get(n) or suite.method_config(METHODS.get(n))) for n in method_names}
    tasks = {n: eval_task(n) for n in task_names}
    check_output_dir(Path(cfg.cache_dir or default_cache_dir()), "--cache-dir (or $DLLM_BENCH_CACHE)")
    plan = RunPlan(cfg, suite, method_names, task_names, methods, tasks, Path(cfg.out) / suite.name)
    for name in plan.train_names:
        source_identity(suite, suite.training_set(name), cfg.data_dir)
    for name in task_names:
        eval_data(suite, suite.eval_spec(name), tasks[name], cfg.data_dir)
    return plan


def unit_config(plan: RunPlan, unit: Unit) -> dict:
    """What the trained model depends on (shared by the records of its eval tasks)."""
    pair, method, suite = plan.pair(unit.family), plan.methods[unit.method], plan.suite
    spec = suite.training_set(unit.train)
    return {"family": unit.family, "family_build": pair.build_hash, "method": {
        "name": unit.method, "config": method.config_dict(), "source": source_of(type(method))},
        "seed": unit.seed, "budget": asdict(suite.budget), "n_train": suite.n_train, "train": asdict(spec),
        "train_source": source_identity(suite, spec, plan.cfg.data_dir)}


def cell_config(plan: RunPlan, unit: Unit, task_name: str) -> tuple[dict, str]:
    """What one record depends on, and its hash (the record is redone when it changes)."""
    task, spec, key = plan.tasks[task_name], plan.suite.eval_spec(task_name), plan.cell_key(unit, task_name)
    run = plan.eval_run(unit, task_name)
    config = {"cell": asdict(key), "unit": unit_config(plan, unit), "sampler": asdict(plan.pair(unit.family).sampler),
              "task": {"name": task_name, "version": task.version, "data": run.data.name if run.data else None,
                       "data_sha256": file_digest(run.data), "limit": run.limit,
                       "hub": None if run.data or not task.hub else asdict(task.hub),
                       "options": {k: str(v) for k, v in run.options.items()},
                       **({"pairs": run.pairs_origin} if run.pairs_origin else {}),
                       **({"model_args": dict(spec.model_args)} if spec.model_args else {})}}
    return config, config_hash(config)


def base_answers(plan: RunPlan, unit: Unit, task: str) -> Path | None:
    """Where the base row's answers to a pairwise task (judged against them) are kept; None: not pairwise."""
    if "base" not in plan.tasks[task].options or dict(plan.suite.eval_spec(task).options).get("base"):
        return None
    label = plan.suite.record_task(task, unit.train)
    return plan.store_root / "artifacts" / "base-answers" / f"{unit.family}-{label}-seed{unit.seed}.jsonl"


def missing_cells(plan: RunPlan, unit: Unit, force: bool = False) -> list[tuple[str, CellKey, dict, str]]:
    """(task, key, config, hash) of the unit's records not stored with their current config (a base record
    whose answers, the other rows' pairwise reference, were deleted is not stored either)."""
    store = ResultStore(plan.store_root)
    out = []
    for task in plan.tasks_of(unit):
        config, digest = cell_config(plan, unit, task)
        key = plan.cell_key(unit, task)
        answers = base_answers(plan, unit, task) if unit.method == REFERENCE_METHOD else None
        if force or not store.is_done(key, digest) or (answers is not None and not answers.is_file()):
            out.append((task, key, config, digest))
    return out
