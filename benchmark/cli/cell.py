"""``cell``: one (family, task, seed, method) cell of a suite, the unit ``accelerate launch`` starts.

    accelerate launch --config_file $(python -c 'from benchmark.accelerate import config_file as c; print(c("ddp"))') \\
        -m benchmark cell --suite tiny --method vrpo --task arith --seed 0

Every process trains (the trainers are data-parallel under accelerate); rank 0 alone scores and writes the
same record ``run`` writes, into the same result folder, so ``run``/``leaderboard`` pick it up. The base
cell of the same (family, task, seed) runs first when it is missing: its answers are the win-rate reference.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from benchmark.cli._common import add_plugins
from benchmark.core.provenance import distributed_rank
from benchmark.core.store import CellKey, FolderLock, check_output_dir
from benchmark.harness.grid import REFERENCE_METHOD, RunConfig, plan_run, run_cell


def add_parser(sub) -> None:
    cell = sub.add_parser("cell", allow_abbrev=False, help="run one cell (the unit accelerate launch starts)")
    cell.add_argument("--suite", default="tiny", help="suite name or PATH.toml (default: tiny)")
    cell.add_argument("--method", required=True)
    cell.add_argument("--task", required=True)
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
    plan = plan_run(RunConfig(suite=args.suite, methods=[args.method], tasks=[args.task], seeds=args.seed + 1,
                              out=args.out, force=args.force, cache_dir=args.cache_dir, data_dir=args.data_dir))
    family = args.family or plan.suite.families[0]
    if family not in plan.suite.families:
        print(f"error: --family {family!r} is not in suite {plan.suite.name!r} ({', '.join(plan.suite.families)})",
              file=sys.stderr)
        return 2
    key = CellKey(plan.suite.name, family, args.method, args.task, args.seed)
    plan.store_root.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(plan.store_root, f"`cell {key.label()}`") if distributed_rank() == 0 \
        else contextlib.nullcontext()
    with lock, contextlib.redirect_stdout(sys.stderr):
        for dep in plan.dependencies(key):
            if dep.method == REFERENCE_METHOD:
                run_cell(plan, dep, force=False)
        ran = run_cell(plan, key)
    if distributed_rank() == 0:
        where = plan.store_root / "cells"
        print(f"{key.label()}: {'written' if ran else 'already done (use --force to rerun)'} under {where}/")
    return 0
