"""Suites: which families, tasks and methods run together, and under what shared budget.

A suite is a TOML file (``benchmark/suites/*.toml`` ship with the package; ``run --suite PATH.toml`` runs
a user's) validated into a frozen ``Suite``:

    [suite]      name, description, families, tasks, methods (optional), n_eval, n_heldout
    [budget]     steps, batch_size, learning_rate, beta (the ``Budget`` every method shares)
    [methods.X]  fields of method X's ``Config`` (e.g. ``[methods.vrpo] n_t = 8``)
    [resources]  cpus_per_cell, gpus_per_cell (what ``run --executor ray`` asks of Ray for each cell)
    [families.X] a family given by checkpoints: ar, dllm (folders or hub ids), revision, mask_token_id,
                 shift, block_attention, default_gamma, and [families.X.sampler] (``SamplerSettings``)
    [train.X]    a training set: format (a ``benchmark.preference_data`` plugin, or "synthetic" with
                 task = a synthetic task's name), path (relative to the suite file or --data-dir) and/or
                 hub/hub_split/hub_config/hub_data_dir/hub_format, n_heldout, n_eval_pairs (the held-out
                 preference task's pairs), max_prompt_tokens, max_response_tokens, and scores = [the eval
                 tasks that score the models trained on it]
    [preference] the same keys without ``scores``: one training set that scores every eval task
    [eval.X]     eval task X's data (relative to the suite file or --data-dir), limit, options (``--set``'s)
                 and model_args (the DLLM likelihood: ``mc_num``, ``likelihood = "elbo" | "one_pass"``)

A file a suite names is looked up beside the suite file, then under ``--data-dir``. When it is in neither
place: with ``--data-dir`` given that is an error (the user meant the file); without, the task's (or the
training set's) hub dataset is used, and the record says which source it was.

A suite is training sets x eval tasks. A cell is (family, method, training set, seed): the method is trained
once on the set's pairs and the model is scored by every eval task the set ``scores``, one record per task
(keyed by the task's name, or ``task@set`` when several sets score it). A synthetic task (``arith``) is both:
its pairs are a training set and its prompts and verifier an eval task; one named in ``tasks`` and scored
by no ``[train.X]`` trains on its own pairs (the ``tiny`` suite is three such sets).

Every table, key and type is checked, and every name against its registry, before anything runs: an
error names the file, the table and the key. Suites can also be registered from Python (plugins), as
the ``paper`` suite is (its families are hub checkpoints described in ``paper.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benchmark.core.api import Budget, SamplerSettings
from benchmark.core.errors import BenchmarkError
from benchmark.core.preference_data import PREFERENCE_DATA
from benchmark.core.registry import EVAL_TASKS, FAMILIES, METHODS, SUITES, TASKS, register_suite
from benchmark.core.store import safe_name
from benchmark.models.checkpoints import CheckpointFamily, CheckpointSpec


class SuiteError(BenchmarkError):
    """A suite file that does not validate; the message names the file, the table and the key."""


@dataclass(frozen=True)
class TrainSpec:
    """A training set: preference pairs (a ``benchmark.preference_data`` format, file and/or hub, or a
    synthetic task's own pairs), how they are cut to the budget, and the eval tasks that score the models
    trained on them."""

    name: str
    format: str  # a benchmark.preference_data plugin, or "synthetic" (the pairs of the task named by ``task``)
    scores: tuple[str, ...]
    task: str | None = None
    path: str | None = None
    hub: str | None = None
    hub_split: str = "train"
    hub_config: str | None = None
    hub_data_dir: str | None = None  # a subset kept as a folder of the hub dataset (hh-rlhf's "helpful-base")
    hub_format: str | None = None  # the hub dataset's format when it differs from the file's (default: format)
    n_heldout: int = 64
    n_eval_pairs: int = 0  # after the held-out pairs, never trained on: the held-out preference task's items
    max_prompt_tokens: int = 256
    max_response_tokens: int = 256

    @property
    def synthetic(self) -> bool:
        return self.format == SYNTHETIC


SYNTHETIC = "synthetic"
PREFERENCE_TASK = "preference-accuracy"  # the held-out preference task: it scores a training set's own pairs


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    families: tuple[str, ...]
    tasks: tuple[str, ...]  # the eval tasks (synthetic tasks are scored by their own verifier)
    methods: tuple[str, ...] | None = None  # None: every registered method
    budget: Budget = field(default_factory=Budget)
    n_eval: int = 48  # evaluation prompts per (synthetic task, seed)
    n_heldout: int = 64  # held-out pairs per (synthetic task, seed), e.g. for choosing gamma
    method_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # (method, ((field, value), ...))
    source: str = "python"  # the file it was read from, or "python"
    cpus_per_cell: float = 1.0  # Ray resources of one cell (run --executor ray); not part of any result
    gpus_per_cell: float = 0.0
    train: tuple[TrainSpec, ...] = ()  # empty: every synthetic task trains on its own pairs (set by __post_init__)
    eval_settings: tuple[tuple[str, EvalSpec], ...] = ()

    def __post_init__(self) -> None:
        scored = {t for spec in self.train for t in spec.scores}
        own = tuple(TrainSpec(t, SYNTHETIC, (t,), task=t, n_heldout=self.n_heldout)
                    for t in self.tasks if t not in scored and t in TASKS)
        object.__setattr__(self, "train", own + tuple(self.train))

    def eval_spec(self, task: str) -> EvalSpec:
        return dict(self.eval_settings).get(task, EvalSpec())

    def training_set(self, name: str) -> TrainSpec:
        return next(t for t in self.train if t.name == name)

    def record_task(self, task: str, train: str) -> str:
        """The task part of a record's key: the task's name, or ``task@train`` when several sets score it."""
        return task if sum(task in t.scores for t in self.train) == 1 else f"{task}@{train}"

    @property
    def data_sets(self) -> tuple[TrainSpec, ...]:
        """The training sets read from files or the hub (a family adapted on text trains on the first)."""
        return tuple(t for t in self.train if not t.synthetic)

    @property
    def n_train(self) -> int:
        return self.budget.steps * self.budget.batch_size  # one epoch over fresh pairs

    def method_config(self, method_cls):
        """The method's ``Config`` with this suite's settings applied (None when the suite sets none)."""
        settings = dict(dict(self.method_settings).get(method_cls.name, ()))
        return dataclasses.replace(method_cls.Config(), **settings) if settings else None


@dataclass(frozen=True)
class EvalSpec:
    """An eval task's data in a suite: a file (or the task's hub dataset), a limit, its options."""

    data: str | None = None
    limit: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    # arguments of the DLLM's lm-eval model class for this task (e.g. ``mc_num``, ``likelihood``)
    model_args: tuple[tuple[str, Any], ...] = ()


_TRAIN_KEYS = {"format": str, "task": str, "scores": list, "path": str, "hub": str, "hub_split": str,
               "hub_config": str, "hub_data_dir": str, "hub_format": str, "n_heldout": int, "n_eval_pairs": int,
               "max_prompt_tokens": int, "max_response_tokens": int}
_FAMILY_KEYS = {"ar": str, "dllm": str, "revision": str, "ar_revision": str, "dllm_revision": str,
                "mask_token_id": int, "shift": bool, "block_attention": int, "default_gamma": float, "sampler": dict}

_SUITE_KEYS = {"name": str, "description": str, "families": list, "tasks": list, "methods": list, "n_eval": int,
               "n_heldout": int}
_REQUIRED = ("name", "families", "tasks")


def _check_type(value, want, where: str) -> None:
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if want is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        kind = "a number" if want is float else "a list of names" if want is list else want.__name__
        raise SuiteError(f"{where} must be {kind}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SuiteError(f"{where} must be a finite number, got {value!r}")


def _unknown(key: str, known, where: str) -> SuiteError:
    close = difflib.get_close_matches(key, list(known), n=1)
    return SuiteError(f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                      + f"; known: {', '.join(sorted(known))}")


def _names(values: list, registry, where: str) -> tuple[str, ...]:
    out = []
    for i, name in enumerate(values):
        if not isinstance(name, str):
            raise SuiteError(f"{where}[{i}] must be a name (string), got {type(name).__name__}")
        if name not in registry:
            close = difflib.get_close_matches(name, registry.names(), n=1)
            raise SuiteError(f"{where}: unknown {registry.kind} {name!r}" + (f" (did you mean {close[0]!r}?)"
                                                                            if close else "")
                             + f"; known: {', '.join(registry.names())}")
        out.append(name)
    return tuple(out)


def load_suite_file(path: str | Path) -> Suite:
    """Read and validate a suite TOML file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    for table in raw:
        if table not in ("suite", "budget", "methods", "resources", "families", "preference", "train", "eval"):
            raise SuiteError(f"{path}: unknown table [{table}]; known: [suite], [budget], [methods.NAME], "
                             "[resources], [families.NAME], [preference], [train.NAME], [eval.TASK]")
    _register_checkpoint_families(raw.get("families", {}), path)
    if not isinstance(raw.get("suite"), dict):
        raise SuiteError(f"{path}: missing table [suite]")
    spec = _checked(raw["suite"], _SUITE_KEYS, f"{path}: [suite]")
    for key in _REQUIRED:
        if key not in spec:
            raise SuiteError(f"{path}: [suite] is missing key {key!r}")
    for key in ("n_eval", "n_heldout"):
        if key in spec and not 0 <= spec[key] <= 10_000_000:
            raise SuiteError(f"{path}: [suite] key {key!r} must be >= 0 (and at most 10,000,000), got {spec[key]}")
    for key in ("families", "tasks", "methods"):
        if key in spec and not spec[key]:
            raise SuiteError(f"{path}: [suite] key {key!r} is an empty list: name at least one"
                             + (" (or leave the key out for every registered method)" if key == "methods" else ""))
        if key in spec and len(set(map(str, spec[key]))) != len(spec[key]):
            raise SuiteError(f"{path}: [suite] key {key!r} names an entry twice: {spec[key]}")
    try:
        safe_name(spec["name"], "suite name")
    except BenchmarkError as exc:
        raise SuiteError(f"{path}: [suite] key 'name': {exc}") from exc
    families = _names(spec["families"], FAMILIES, f"{path}: [suite] key 'families'")
    tasks = _names(spec["tasks"], _AnyTask(), f"{path}: [suite] key 'tasks'")
    methods = _names(spec["methods"], METHODS, f"{path}: [suite] key 'methods'") if "methods" in spec else None
    budget_fields = {f.name: float if f.type in ("float", float) else int for f in dataclasses.fields(Budget)}
    budget_raw = _checked(_table(raw.get("budget", {}), f"{path}: [budget]"), budget_fields, f"{path}: [budget]")
    for key, value in budget_raw.items():
        if not value > 0:
            raise SuiteError(f"{path}: [budget] key {key!r} must be positive, got {value}")
    budget = Budget(**{k: budget_fields[k](v) for k, v in budget_raw.items()})
    settings = []
    methods_raw = raw.get("methods", {})
    if not isinstance(methods_raw, dict):
        raise SuiteError(f"{path}: [methods] must hold tables [methods.NAME]")
    for name, table in methods_raw.items():
        _names([name], METHODS, f"{path}: [methods.{name}]")
        if not isinstance(table, dict):
            raise SuiteError(f"{path}: [methods.{name}] must be a table of the method's settings")
        config_fields = {f.name: f for f in dataclasses.fields(METHODS.get(name).Config)}
        for key, value in table.items():
            if key not in config_fields:
                raise _unknown(key, config_fields, f"{path}: [methods.{name}]")
            default = getattr(METHODS.get(name).Config(), key)
            if default is not None and not isinstance(value, type(default)) and not (
                    isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)):
                raise SuiteError(f"{path}: [methods.{name}] key {key!r} must be {type(default).__name__} "
                                 f"(its default is {default!r}), got {type(value).__name__} {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise SuiteError(f"{path}: [methods.{name}] key {key!r} must be a finite number, got {value!r}")
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise SuiteError(f"{path}: [methods.{name}] key {key!r} must not be negative, got {value!r}")
        try:  # the method's own checks (a Config's __post_init__), at read time rather than mid-training
            METHODS.get(name).Config(**table)
        except (TypeError, ValueError) as exc:
            raise SuiteError(f"{path}: [methods.{name}]: {exc}") from exc
        settings.append((name, tuple(sorted(table.items()))))
    resources = _checked(_table(raw.get("resources", {}), f"{path}: [resources]"),
                         {"cpus_per_cell": float, "gpus_per_cell": float}, f"{path}: [resources]")
    for key, value in resources.items():
        if value < 0 or (key == "cpus_per_cell" and value == 0):
            raise SuiteError(f"{path}: [resources] key {key!r} must be {'positive' if key[0] == 'c' else '>= 0'}, "
                             f"got {value}")
    train, eval_settings = _training_sets_and_eval(raw, tasks, path)
    return Suite(name=spec["name"], description=spec.get("description", ""), families=families, tasks=tasks,
                 methods=methods, budget=budget, n_eval=spec.get("n_eval", 48), n_heldout=spec.get("n_heldout", 64),
                 method_settings=tuple(settings), source=str(path),
                 cpus_per_cell=float(resources.get("cpus_per_cell", 1.0)),
                 gpus_per_cell=float(resources.get("gpus_per_cell", 0.0)),
                 train=train, eval_settings=eval_settings)


def _table(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise SuiteError(f"{where} must be a table")
    return raw


def _checked(table: dict, known: dict, where: str) -> dict:
    for key, value in table.items():
        if key not in known:
            raise _unknown(key, known, where)
        want = known[key]
        if want is bool:
            if not isinstance(value, bool):
                raise SuiteError(f"{where} key {key!r} must be true or false, got {type(value).__name__} {value!r}")
        elif want is dict:
            _table(value, f"{where} key {key!r}")
        else:
            _check_type(value, want, f"{where} key {key!r}")
    return table


def _relative(value: str, suite_file: Path) -> str:
    """A path in a suite file is relative to the file (hub ids stay as they are)."""
    candidate = (suite_file.parent / value).expanduser()
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def _register_checkpoint_families(tables, path: Path) -> None:
    """[families.NAME] tables become families in the registry before the [suite] names are checked."""
    for name, table in _table(tables, f"{path}: [families]").items():
        where = f"{path}: [families.{name}]"
        try:
            safe_name(name, "family name")
        except BenchmarkError as exc:
            raise SuiteError(f"{where}: {exc}") from exc
        table = _checked(_table(table, where), _FAMILY_KEYS, where)
        if name in FAMILIES.names() and not getattr(FAMILIES.get(name), "defined_in", None):
            raise SuiteError(f"{where}: a family {name!r} is already registered (by the package or a plugin); "
                             "give this one another name")
        for key in ("ar", "dllm"):
            if key not in table:
                raise SuiteError(f"{where} is missing key {key!r} (a checkpoint folder or hub id)")
        sampler_raw = _table(table.get("sampler", {}), f"{where}.sampler")
        sampler_fields = {f.name for f in dataclasses.fields(SamplerSettings)}
        for key in sampler_raw:
            if key not in sampler_fields:
                raise _unknown(key, sampler_fields, f"{where}.sampler")
        _check_sampler(sampler_raw, f"{where}.sampler")
        sampler = SamplerSettings(**sampler_raw)
        spec = CheckpointSpec(
            name=name, ar=_relative(table["ar"], path), dllm=_relative(table["dllm"], path),
            ar_revision=table.get("ar_revision", table.get("revision")),
            dllm_revision=table.get("dllm_revision", table.get("revision")),
            mask_token_id=table.get("mask_token_id"), shift=table.get("shift"),
            block_attention=table.get("block_attention"), default_gamma=float(table.get("default_gamma", 1.0)),
            sampler=sampler, where=where)
        family = type(f"CheckpointFamily_{name}", (CheckpointFamily,), {
            "name": name, "defined_in": str(path.resolve()), "__init__": lambda self, spec=spec: super(
                type(self), self).__init__(spec),
            "description": f"checkpoints {spec.ar} + {spec.dllm} (from {path.name})"})
        FAMILIES.register(name, family, replace=True)


_SAMPLER_RANGES = {"max_new_tokens": (1, 1 << 20), "steps": (1, 1 << 20), "block_length": (1, 1 << 20),
                   "temperature": (0.0, 100.0), "top_p": (1e-9, 1.0), "threshold": (1e-9, 1.0)}
# The allowed values are SamplerSettings' own Literal annotations, not a second list to keep in step.
_SAMPLER_CHOICES = {k: typing.get_args(typing.get_type_hints(SamplerSettings)[k]) for k in ("order", "cache")}


def _check_sampler(raw: dict, where: str) -> None:
    """Types, ranges and choices of a family's sampler settings, when the suite is read."""
    defaults = SamplerSettings()
    for key, value in raw.items():
        default = getattr(defaults, key)
        want = type(default) if default is not None else (float if key == "threshold" else int)
        _check_type(value, float if want is float else want, f"{where} key {key!r}")
        if key in _SAMPLER_RANGES and not _SAMPLER_RANGES[key][0] <= value <= _SAMPLER_RANGES[key][1]:
            lo, hi = _SAMPLER_RANGES[key]
            raise SuiteError(f"{where} key {key!r} must be between {lo:g} and {hi:g}, got {value!r}")
        if key in _SAMPLER_CHOICES and value not in _SAMPLER_CHOICES[key]:
            raise SuiteError(f"{where} key {key!r} must be one of {', '.join(_SAMPLER_CHOICES[key])}, got {value!r}")


def _train_table(table: dict, name: str, where: str, suite_tasks: tuple[str, ...], path: Path,
                 scores: tuple[str, ...] | None = None) -> TrainSpec:
    """One training set: ``[train.NAME]`` (``scores`` listed) or the single ``[preference]`` table."""
    table = dict(_checked(_table(table, where), _TRAIN_KEYS, where))
    if "format" not in table:
        raise SuiteError(f"{where} is missing key 'format' (one of {', '.join(PREFERENCE_DATA.names())}, "
                         f"or {SYNTHETIC!r} with key 'task')")
    if table["format"] == SYNTHETIC:
        if "task" not in table:
            raise SuiteError(f"{where} key 'format' is {SYNTHETIC!r}: add key 'task' "
                             f"(one of {', '.join(TASKS.names())})")
        _names([table["task"]], TASKS, f"{where} key 'task'")
        extra = sorted(set(table) & {"path", "hub", "hub_split", "hub_config", "hub_data_dir", "hub_format",
                                     "max_prompt_tokens", "max_response_tokens"})
        if extra:
            raise SuiteError(f"{where}: a synthetic task's pairs have no {', '.join(extra)}")
    else:
        _names([table["format"]], PREFERENCE_DATA, f"{where} key 'format'")
        if "task" in table:
            raise SuiteError(f"{where} key 'task' goes with format = {SYNTHETIC!r}")
        if "hub_format" in table:
            _names([table["hub_format"]], PREFERENCE_DATA, f"{where} key 'hub_format'")
        if "path" not in table and "hub" not in table:
            raise SuiteError(f"{where} needs 'path' (a local file), 'hub' (a hub dataset id), or both (the file when "
                             "it is there, beside the suite file or under --data-dir, else the hub)")
    for key in ("n_heldout", "n_eval_pairs", "max_prompt_tokens", "max_response_tokens"):
        low = 0 if key in ("n_heldout", "n_eval_pairs") else 1
        if key in table and not low <= table[key] <= 10_000_000:
            raise SuiteError(f"{where} key {key!r} must be {'>= 0' if low == 0 else 'positive'} (and at most "
                             f"10,000,000), got {table[key]}")
    if table.get("n_eval_pairs") and table["format"] == SYNTHETIC:
        raise SuiteError(f"{where} key 'n_eval_pairs': a synthetic task's pairs have no evaluation block (score it "
                         "with its own task)")
    if scores is None:
        if "scores" not in table:
            raise SuiteError(f"{where} is missing key 'scores' (the eval tasks of [suite] tasks that score the "
                             "models trained on this set)")
        listed = table["scores"]
        if not listed:
            raise SuiteError(f"{where} key 'scores' is empty: name at least one of {', '.join(suite_tasks)}")
        for i, task in enumerate(listed):
            if task not in suite_tasks:
                raise SuiteError(f"{where} key 'scores'[{i}]: {task!r} is not one of [suite] tasks "
                                 f"({', '.join(suite_tasks)})")
        if len(set(listed)) != len(listed):
            raise SuiteError(f"{where} key 'scores' names a task twice: {listed}")
        scores = tuple(listed)
    elif "scores" in table:
        raise SuiteError(f"{where}: [preference] scores every eval task; use [train.NAME] tables to choose")
    table.pop("scores", None)
    if PREFERENCE_TASK in scores and not table.get("n_eval_pairs"):
        raise SuiteError(f"{where} scores {PREFERENCE_TASK!r}: set key 'n_eval_pairs' (how many pairs, after the "
                         "held-out ones, are kept from training and scored)")
    if "path" in table:
        table["path"] = _relative(table["path"], path)
    return TrainSpec(name=name, scores=scores, **table)


def _training_sets_and_eval(raw: dict, tasks: tuple[str, ...], path: Path):
    """The suite's training sets and eval-task settings. A synthetic task with no set scoring it trains on
    its own pairs (``Suite.__post_init__``); every other task must be scored by a set."""
    evals = tuple(t for t in tasks if t not in TASKS)
    if "preference" in raw and "train" in raw:
        raise SuiteError(f"{path}: use either one [preference] table (it scores every eval task) or [train.NAME] "
                         "tables, not both")
    train: list[TrainSpec] = []
    if "preference" in raw:
        train.append(_train_table(raw["preference"], "preference", f"{path}: [preference]", tasks, path,
                                  scores=evals))
    for name, table in _table(raw.get("train", {}), f"{path}: [train]").items():
        if not _SAFE_NAME.fullmatch(name):
            raise SuiteError(f"{path}: [train.{name}]: a training set's name must be letters, digits, '-', '_' or "
                             "'.' (it becomes part of file names)")
        train.append(_train_table(table, name, f"{path}: [train.{name}]", tasks, path))
    scored = {t for spec in train for t in spec.scores}
    unscored = [t for t in evals if t not in scored]
    if unscored:
        where = "add a [preference] table (format, path or hub)" if not train else \
            "name them in the 'scores' of a [train.NAME] table"
        raise SuiteError(f"{path}: [suite] key 'tasks': {', '.join(unscored)} scored by no training set: eval tasks "
                         f"score models trained on preference data; {where}")
    settings = []
    for name, spec in _table(raw.get("eval", {}), f"{path}: [eval]").items():
        where = f"{path}: [eval.{name}]"
        if name not in evals:
            raise SuiteError(f"{where}: {name!r} is not one of the suite's eval tasks ({', '.join(evals) or 'none'})")
        spec = _checked(_table(spec, where), {"data": str, "limit": int, "options": dict, "model_args": dict}, where)
        for key, value in spec.get("model_args", {}).items():
            if key not in _DLLM_MODEL_ARGS:
                raise _unknown(key, _DLLM_MODEL_ARGS, f"{where}.model_args")
            _check_type(value, _DLLM_MODEL_ARGS[key], f"{where}.model_args key {key!r}")
        if "limit" in spec and spec["limit"] < 1:
            raise SuiteError(f"{where} key 'limit' must be positive, got {spec['limit']}")
        task = EVAL_TASKS.get(name)()
        for key in spec.get("options", {}):
            if key not in task.options:
                raise _unknown(key, task.options, f"{where}.options")
        try:  # the values too (types, ranges), when the file is read
            task.resolve_options({k: str(v) for k, v in spec.get("options", {}).items()})
        except BenchmarkError as exc:
            raise SuiteError(f"{where}.options: {exc}") from exc
        settings.append((name, EvalSpec(data=_relative(spec["data"], path) if "data" in spec else None,
                                        limit=spec.get("limit"),
                                        options=tuple(sorted(spec.get("options", {}).items())),
                                        model_args=tuple(sorted(spec.get("model_args", {}).items())))))
    return tuple(train), tuple(settings)


_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


# What a suite may set of the DLLM's lm-eval model per task (the sampler is the family's).
_DLLM_MODEL_ARGS = {"mc_num": int, "likelihood": str}


class _AnyTask:
    """Tasks of a suite: preference tasks or eval tasks (checked against both registries)."""

    kind = "task"

    def __contains__(self, name: str) -> bool:
        return name in TASKS or name in EVAL_TASKS

    def names(self) -> list[str]:
        return sorted(set(TASKS.names()) | set(EVAL_TASKS.names()))


def get_suite(name_or_path: str) -> Suite:
    """A registered suite by name, or a suite file by path (``*.toml``)."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return load_suite_file(name_or_path)
    return SUITES.get(name_or_path)


def builtin_suite_files() -> list[Path]:
    return sorted(Path(str(p)) for p in resources.files("benchmark").joinpath("suites").iterdir()
                  if str(p).endswith(".toml"))


def _register_builtin_files() -> None:
    """Each built-in file is registered under its name as a lazy target, read and validated on first
    lookup (validation checks names against registries that fill from entry points: not at import)."""
    for path in builtin_suite_files():
        register_suite(path.stem, f"benchmark.harness.suites:_builtin_{path.stem}")


def __getattr__(attr: str):
    if attr.startswith("_builtin_"):
        name = attr.removeprefix("_builtin_")
        for path in builtin_suite_files():
            if path.stem == name:
                suite = load_suite_file(path)
                globals()[attr] = suite
                return suite
    raise AttributeError(attr)


_register_builtin_files()
