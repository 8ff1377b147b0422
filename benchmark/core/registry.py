"""One generic registry for methods, tasks and model families.

Plugins register with a decorator, as lazy ``"module:attr"`` strings, through an installed package's
entry-point group (HELM style), or by a ``--plugins FILE.py`` that runs decorators on import. The core
never imports ``baselines`` or ``tasks`` by name: it reads the entry-point groups declared in
``pyproject.toml``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """Unknown or duplicate name; the message lists the choices."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class PluginError(ImportError):
    """A plugin file or entry point could not be imported."""


class Registry(Generic[T]):
    """Name -> object, with lazy targets and entry-point discovery.

    Args:
        kind: what is registered ("method", "task", "family"), used in messages.
        group: the entry-point group scanned on first lookup, e.g. ``benchmark.methods``.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T | str] = {}
        self._scanned = group is None

    def register(self, name: str, obj: T | str | None = None, replace: bool = False) -> Callable[[T], T] | T | str:
        """Register ``obj`` under ``name``; without ``obj`` this is a decorator. ``replace`` overwrites an
        entry that was also defined by a suite file (``defined_in``): the suite read last names its families
        (a run reads one suite; a family's build hash fingerprints its checkpoints, so results never mix)."""
        if replace and obj is not None and name in self._items and \
                getattr(self._items[name], "defined_in", None) and getattr(obj, "defined_in", None):
            self._items[name] = obj
            return obj
        if obj is None:
            def decorator(target: T) -> T:
                self._add(name, target)
                return target
            return decorator
        self._add(name, obj)
        return obj

    def _add(self, name: str, obj: T | str) -> None:
        if not name or not isinstance(name, str):
            raise RegistryError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        self._scan_entry_points()  # a plugin must not shadow an installed entry point it has not seen yet
        existing = self._items.get(name)
        if isinstance(existing, str) and not isinstance(obj, str) and _target_of(obj) == existing:
            self._items[name] = obj  # the lazy entry's module is being imported: resolve it in place
            return
        if name in self._items and existing is not obj:
            raise RegistryError(f"{self.kind} {name!r} from {_origin(obj)} is already registered by "
                                f"{_origin(existing)}; give the plugin another name")
        self._items[name] = obj

    def _scan_entry_points(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.value

    def get(self, name: str) -> T:
        """Return the object registered as ``name``, importing a lazy target on first use."""
        self._scan_entry_points()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Choices: {', '.join(sorted(self._items)) or '(none)'}"
            )
        obj = self._items[name]
        if isinstance(obj, str):
            obj = self._items[name] = _import_target(obj, f"{self.kind} {name!r}")
        return obj

    def describe(self, name: str) -> str:
        """The one-line description of ``name``, read from the source when it is not imported yet.

        ``list`` shows every plugin; importing them all would pull in torch and take seconds, so a lazy
        entry's ``description`` class attribute is read with ``ast`` (nothing runs). An entry whose
        description is not a literal in its own class is imported as usual.
        """
        self._scan_entry_points()
        obj = self._items.get(name)
        if isinstance(obj, str):
            text = _static_description(obj)
            if text is not None:
                return text
        obj = self.get(name)
        return getattr(obj, "description", "") or (obj.__doc__ or "").strip().partition("\n")[0]

    def names(self) -> list[str]:
        self._scan_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._scan_entry_points()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _origin(obj) -> str:
    """Where a registered object comes from, for messages: entry point, module and file."""
    if isinstance(obj, str):
        return f"{obj} (installed entry point or lazy target)"
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    where = getattr(module, "__file__", None)
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__name__)}" + (
        f" ({where})" if where else "")


def _target_of(obj) -> str:
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"


def _static_description(target: str) -> str | None:
    """``description = "..."`` in the body of the class ``module:Class``, without importing the module."""
    import ast

    module_name, _, attr = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attr:
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
                    stmt, ast.AnnAssign) else []
                if any(isinstance(t, ast.Name) and t.id == "description" for t in targets) and isinstance(
                        stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                    return stmt.value.value
    return None


def _import_target(target: str, what: str):
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    except Exception as exc:  # report which plugin broke, keep the cause chained
        top = sys.modules.get(module_name.split(".")[0])
        if isinstance(exc, ModuleNotFoundError) and top is not None and not hasattr(top, "__path__"):
            raise PluginError(f"could not load {what} from {target!r}: the package {top.__name__!r} is shadowed by "
                              f"the module {getattr(top, '__file__', '?')} (a file named like it in the working "
                              "directory or on PYTHONPATH); rename that file or run from another folder") from exc
        raise PluginError(f"could not load {what} from {target!r}: {type(exc).__name__}: {exc}") from exc


def load_plugin_file(path: str | Path) -> None:
    """Import a Python file so that its decorators register methods, tasks or families."""
    path = Path(path)
    if not path.is_file():
        raise PluginError(f"--plugins: no such file: {path}")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"benchmark_plugin_{path.stem}_{digest}"
    if module_name in sys.modules:  # already loaded: registering again would be a duplicate
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"--plugins: {path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"--plugins: importing {path} failed: {type(exc).__name__}: {exc}") from exc


# The only module-level state of the project: one registry per plugin kind.
METHODS: Registry = Registry("method", "benchmark.methods")
TASKS: Registry = Registry("task", "benchmark.tasks")
FAMILIES: Registry = Registry("family", "benchmark.models")
SUITES: Registry = Registry("suite", "benchmark.suites")
EVAL_TASKS: Registry = Registry("eval task", "benchmark.eval_tasks")

register_method = METHODS.register
register_task = TASKS.register
register_family = FAMILIES.register
register_suite = SUITES.register
register_eval_task = EVAL_TASKS.register
