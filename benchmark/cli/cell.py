"""``cell``: one (family, method, training set, seed) unit of a suite, what ``accelerate launch`` starts.

    accelerate launch --config_file $(python -c 'from benchmark.accelerate import config_file as c; print(c("ddp"))') \\
        -m benchmark cell --suite tiny --method vrpo --train arith --seed 0

Every process trains (the trainers are data-parallel under accelerate); rank 0 alone scores the model with
each eval task the training set scores and writes the records ``run`` writes, into the same result folder,
so ``run``/``leaderboard`` pick them up. The base unit of the same (family, training set, seed) runs first
when it is missing: its answers are the win-rate reference. ``--task T`` picks the training set that
scores T (and only T's record), for suites where one set scores it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from benchmark.cli._common import add_plugins
from benchmark.core.provenance import distributed_rank
from benchmark.core.store import FolderLock, check_output_dir, claim_suite_folder
from benchmark.harness.cells import run_unit
from benchmark.harness.grid import REFERENCE_METHOD, RunConfig, Unit, plan_run, suite_source


def add_parser(sub) -> None:
    cell = sub.add_parser("cell", allow_abbrev=False, help="run one cell (the unit accelerate launch starts)")
    cell.add_argument("--suite", default="tiny", help="suite name or PATH.toml (default: tiny)")
    cell.add_argument("--method", required=True)
    cell.add_argument("--train", help="training set (default: the one scoring --task, or the suite's only one)")
    cell.add_argument("--task", help="score only this eval task (default: every task the training set scores)")
    cell.add_argument("--seed", type=int, default=0)
    cell.add_argument("--family", help="family (default: the suite's first)")
    cell.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    cell.add_argument("--force", action="store_true", help="rerun the cell if it has a result")
    cell.add_argument("--cache-dir", type=Path, help="family cache (default: $DLLM_BENCH_CACHE)")
    cell.add_argument("--data-dir", type=Path, help="where the suite's eval files are looked up (as for run)")
    add_plugins(cell)
    cell.set_defaults(handler=main)


def main(args) -> int:
    check_output_dir(args.out, "--out")
    if args.seed < 0:
        print(f"error: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    plan = plan_run(RunConfig(suite=args.suite, methods=[args.method], tasks=[args.task] if args.task else None,
                              seeds=args.seed + 1, out=args.out, force=args.force, cache_dir=args.cache_dir,
                              data_dir=args.data_dir))
    sets = plan.train_names
    if args.train is not None and args.train not in sets:
        print(f"error: --train {args.train!r} is not a training set of suite {plan.suite.name!r}"
              + (f" scoring {args.task!r}" if args.task else "") + f" ({', '.join(sets)})", file=sys.stderr)
        return 2
    if args.train is None and len(sets) != 1:
        print(f"error: suite {plan.suite.name!r} has training sets {', '.join(sets)}"
              + (f" scoring {args.task!r}" if args.task else "") + ": pick one with --train", file=sys.stderr)
        return 2
    family = args.family or plan.suite.families[0]
    if family not in plan.suite.families:
        print(f"error: --family {family!r} is not in suite {plan.suite.name!r} ({', '.join(plan.suite.families)})",
              file=sys.stderr)
        return 2
    unit = Unit(plan.suite.name, family, args.method, args.train or sets[0], args.seed)
    plan.store_root.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(plan.store_root, f"`cell {unit.label()}`") if distributed_rank() == 0 \
        else contextlib.nullcontext()
    with lock, contextlib.redirect_stdout(sys.stderr):
        if distributed_rank() == 0:
            claim_suite_folder(plan.store_root, plan.suite.name, suite_source(plan.suite))
        for dep in plan.dependencies(unit):
            if dep.method == REFERENCE_METHOD:
                run_unit(plan, dep, force=False)
        ran = run_unit(plan, unit)
    if distributed_rank() == 0:
        where = plan.store_root / "cells"
        print(f"{unit.label()}: {'written' if ran else 'already done (use --force to rerun)'} under {where}/")
    return 0
