"""``run``: every (family, task, seed, method) cell of a suite, resumable, then the leaderboard."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from benchmark.cli._common import add_plugins, names, positive
from benchmark.core.store import check_output_dir
from benchmark.harness.leaderboard import to_markdown
from benchmark.harness.paper import dry_run
from benchmark.harness.runner import RunConfig, run
from benchmark.harness.suites import get_suite


def add_parser(sub) -> None:
    run = sub.add_parser("run", allow_abbrev=False, help="run cells (method x task x seed) and write the leaderboard")
    pick = run.add_mutually_exclusive_group()
    pick.add_argument("--all", action="store_true", help="every registered method on every suite task")
    pick.add_argument("--methods", type=names, metavar="A,B", help="methods to run (base always runs: "
                      "it is the win-rate reference)")
    run.add_argument("--tasks", type=names, metavar="A,B", help="tasks (default: the suite's)")
    run.add_argument("--suite", default="tiny", help="suite name, or a suite file PATH.toml (default: tiny)")
    run.add_argument("--seeds", type=positive, default=3, help="seeds 0..N-1 per cell (default: 3)")
    run.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    run.add_argument("--force", action="store_true", help="rerun cells that already have results")
    run.add_argument("--rebuild", action="store_true", help="rebuild the suite's model family from scratch")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help="where a family the project builds (smol) adapts its DLLM: auto uses a GPU when present")
    run.add_argument("--keep-models", action="store_true", help="keep aligned models (OUT/SUITE/artifacts/aligned-*)")
    run.add_argument("--cache-dir", type=Path, help="family cache (default: $DLLM_BENCH_CACHE or "
                     "~/.cache/dllm-align-bench)")
    add_plugins(run)
    run.add_argument("--dry-run", action="store_true", help="check models, data, judge and GPU; print the plan")
    run.add_argument("--data-dir", type=Path, help="folder where a suite's eval files are looked up when they "
                     "are not beside the suite file (the paper suite's files)")
    run.add_argument("--executor", choices=["serial", "ray"], default="serial",
                     help="serial: one cell after another (default); ray: every cell a Ray task "
                     "(pip install -e '.[ray]')")
    run.add_argument("--address", help="Ray cluster to join (--executor ray; default: start a local one)")
    run.add_argument("--max-retries", type=int, default=2,
                     help="Ray: retries of a cell whose worker died, before it is reported (default: 2)")
    run.set_defaults(handler=main)


def main(args) -> int:
    check_output_dir(args.out, "--out")
    if args.suite in ("paper", "paper-mini"):  # hub checkpoints on GPUs: check everything before any work
        lines, missing = dry_run(args.data_dir, args.seeds, args.suite)
        print("\n".join(lines))
        if missing:
            print(f"error: the {args.suite} suite cannot run here; missing:\n  - " + "\n  - ".join(missing),
                  file=sys.stderr)
            return 2
        if args.dry_run:
            return 0
    if args.address and args.executor != "ray":
        print("error: --address joins a Ray cluster; it needs --executor ray", file=sys.stderr)
        return 2
    if args.max_retries < 0:
        print(f"error: --max-retries must be >= 0, got {args.max_retries}", file=sys.stderr)
        return 2
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda: this machine has no CUDA device (torch.cuda.is_available() is False); "
                  "use --device auto or cpu", file=sys.stderr)
            return 2
    if args.dry_run and args.suite not in ("paper", "paper-mini"):
        print("error: --dry-run is only meaningful for --suite paper (tiny runs offline in minutes)", file=sys.stderr)
        return 2

    cfg = RunConfig(suite=args.suite, methods=None if args.all else args.methods, tasks=args.tasks,
                    seeds=args.seeds, out=args.out, force=args.force, rebuild=args.rebuild,
                    keep_models=args.keep_models, cache_dir=args.cache_dir, executor=args.executor,
                    address=args.address, max_retries=args.max_retries,
                    plugins=[str(Path(p).resolve()) for p in args.plugins + args.run_plugins],
                    data_dir=args.data_dir, device=args.device)
    with contextlib.redirect_stdout(sys.stderr):  # trainers' loss dictionaries and progress: not the table
        board = run(cfg)
    print(to_markdown(board))
    print(f"results: {args.out / get_suite(args.suite).name}/ (leaderboard.md, .csv, .json; cells/)")
    return 0
