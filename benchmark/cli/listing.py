"""``list``: registered methods, tasks, eval tasks, model families and suites."""

from __future__ import annotations

import json

from benchmark.cli._common import add_plugins
from benchmark.core.preference_data import PREFERENCE_DATA
from benchmark.core.registry import EVAL_TASKS, FAMILIES, METHODS, SUITES, TASKS
from benchmark.harness import suites  # noqa: F401  (registers the built-in suites)


def add_parser(sub) -> None:
    lst = sub.add_parser("list", allow_abbrev=False,
                         help="registered methods, tasks, eval tasks, model families and suites")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    add_plugins(lst)
    lst.set_defaults(handler=main)


def main(args) -> int:
    sections = {"methods": METHODS, "tasks": TASKS, "eval_tasks": EVAL_TASKS, "families": FAMILIES, "suites": SUITES,
                "preference_data": PREFERENCE_DATA}
    if args.json:
        out = {k: r.names() for k, r in sections.items()}
        out["descriptions"] = {k: {n: r.describe(n) for n in r.names()} for k, r in sections.items()}
        out["suite_sources"] = {n: SUITES.get(n).source for n in SUITES.names()}
        print(json.dumps(out, indent=2))
        return 0
    for title, registry in sections.items():
        print(f"{title}:")
        for name in registry.names():
            where = f"  [{SUITES.get(name).source}]" if registry is SUITES else ""
            print(f"  {name:<15} {registry.describe(name)}{where}")
    return 0
