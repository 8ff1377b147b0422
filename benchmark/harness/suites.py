"""Suites: which families, tasks and methods run together, and under what shared budget.

A suite is a TOML file (``benchmark/suites/*.toml`` ship with the package; ``run --suite PATH.toml`` runs
a user's) validated into a frozen ``Suite``:

    [suite]      name, description, families, tasks, methods (optional), n_eval, n_heldout
    [budget]     steps, batch_size, learning_rate, beta (the ``Budget`` every method shares)
    [methods.X]  fields of method X's ``Config`` (e.g. ``[methods.vrpo] n_t = 8``)
    [resources]  cpus_per_cell, gpus_per_cell (what ``run --executor ray`` asks of Ray for each cell)

Every table, key and type is checked, and every name against its registry, before anything runs: an
error names the file, the table and the key. Suites can also be registered from Python (plugins), as
the ``paper`` suite is (its families are hub checkpoints described in ``paper.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benchmark.core.api import Budget
from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import EVAL_TASKS, FAMILIES, METHODS, SUITES, TASKS, register_suite


class SuiteError(BenchmarkError):
    """A suite file that does not validate; the message names the file, the table and the key."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    families: tuple[str, ...]
    tasks: tuple[str, ...]
    methods: tuple[str, ...] | None = None  # None: every registered method
    budget: Budget = field(default_factory=Budget)
    n_eval: int = 48  # evaluation prompts per (task, seed)
    n_heldout: int = 64  # held-out preference pairs per (task, seed), e.g. for choosing gamma
    method_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # (method, ((field, value), ...))
    source: str = "python"  # the file it was read from, or "python"
    cpus_per_cell: float = 1.0  # Ray resources of one cell (run --executor ray); not part of any result
    gpus_per_cell: float = 0.0

    @property
    def n_train(self) -> int:
        return self.budget.steps * self.budget.batch_size  # one epoch over fresh pairs

    def method_config(self, method_cls):
        """The method's ``Config`` with this suite's settings applied (None when the suite sets none)."""
        settings = dict(dict(self.method_settings).get(method_cls.name, ()))
        return dataclasses.replace(method_cls.Config(), **settings) if settings else None


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
        if table not in ("suite", "budget", "methods", "resources"):
            raise SuiteError(f"{path}: unknown table [{table}]; known: [suite], [budget], [methods.NAME], "
                             "[resources]")
    spec = raw.get("suite")
    if not isinstance(spec, dict):
        raise SuiteError(f"{path}: missing table [suite]")
    for key, value in spec.items():
        if key not in _SUITE_KEYS:
            raise _unknown(key, _SUITE_KEYS, f"{path}: [suite]")
        _check_type(value, _SUITE_KEYS[key], f"{path}: [suite] key {key!r}")
    for key in _REQUIRED:
        if key not in spec:
            raise SuiteError(f"{path}: [suite] is missing key {key!r}")
    for key in ("n_eval", "n_heldout"):
        if key in spec and spec[key] < 0:
            raise SuiteError(f"{path}: [suite] key {key!r} must be >= 0, got {spec[key]}")
    families = _names(spec["families"], FAMILIES, f"{path}: [suite] key 'families'")
    tasks = _names(spec["tasks"], _AnyTask(), f"{path}: [suite] key 'tasks'")
    methods = _names(spec["methods"], METHODS, f"{path}: [suite] key 'methods'") if "methods" in spec else None
    budget_fields = {f.name: f.type for f in dataclasses.fields(Budget)}
    budget_raw = raw.get("budget", {})
    if not isinstance(budget_raw, dict):
        raise SuiteError(f"{path}: [budget] must be a table")
    for key, value in budget_raw.items():
        if key not in budget_fields:
            raise _unknown(key, budget_fields, f"{path}: [budget]")
        want = float if budget_fields[key] in ("float", float) else int
        _check_type(value, want, f"{path}: [budget] key {key!r}")
        if value <= 0:
            raise SuiteError(f"{path}: [budget] key {key!r} must be positive, got {value}")
    budget = Budget(**{k: float(v) if budget_fields[k] in ("float", float) else v for k, v in budget_raw.items()})
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
        settings.append((name, tuple(sorted(table.items()))))
    resources = raw.get("resources", {})
    if not isinstance(resources, dict):
        raise SuiteError(f"{path}: [resources] must be a table")
    for key, value in resources.items():
        if key not in ("cpus_per_cell", "gpus_per_cell"):
            raise _unknown(key, ("cpus_per_cell", "gpus_per_cell"), f"{path}: [resources]")
        _check_type(value, float, f"{path}: [resources] key {key!r}")
        if value < 0 or (key == "cpus_per_cell" and value == 0):
            raise SuiteError(f"{path}: [resources] key {key!r} must be {'positive' if key[0] == 'c' else '>= 0'}, "
                             f"got {value}")
    return Suite(name=spec["name"], description=spec.get("description", ""), families=families, tasks=tasks,
                 methods=methods, budget=budget, n_eval=spec.get("n_eval", 48), n_heldout=spec.get("n_heldout", 64),
                 method_settings=tuple(settings), source=str(path),
                 cpus_per_cell=float(resources.get("cpus_per_cell", 1.0)),
                 gpus_per_cell=float(resources.get("gpus_per_cell", 0.0)))


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


# The paper's models and tasks (benchmark/harness/paper.py); `run --suite paper --dry-run` checks and plans.
register_suite("paper", Suite(
    name="paper",
    description="AR-MAP paper pairs Qwen2.5-7B->Dream-7B, Qwen3-8B->SDAR-8B (GPU, HF cache, judge key); --dry-run",
    families=("qwen2.5-dream", "qwen3-sdar"),
    tasks=("alpacaeval", "arena-hard", "truthfulqa-mc2"),
    source="python (benchmark/harness/suites.py; families in benchmark/harness/paper.py)",
))
