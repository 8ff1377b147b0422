"""``report``: the suite's self-contained HTML report (leaderboard, intervals, Pareto front, gamma curves)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.harness.report import write_report


def add_parser(sub) -> None:
    rep = sub.add_parser("report", allow_abbrev=False,
                         help="write OUT/SUITE/report.html from stored results (runs nothing)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    rep.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    rep.set_defaults(handler=main)


def main(args) -> int:
    root = args.out / args.suite
    if not (root / "cells").is_dir():
        print(f"error: no results under {root}/cells; run `python -m benchmark run` first", file=sys.stderr)
        return 2
    path = write_report(root)
    print(f"wrote {path}")
    return 0
