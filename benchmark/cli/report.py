"""``report``: the suite's self-contained HTML report (leaderboard, intervals, Pareto front, gamma curves)."""

from __future__ import annotations

from pathlib import Path

from benchmark.cli._common import stored_suite
from benchmark.harness.report import write_report


def add_parser(sub) -> None:
    rep = sub.add_parser("report", allow_abbrev=False,
                         help="write OUT/SUITE/report.html from stored results (runs nothing)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    rep.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    rep.set_defaults(handler=main)


def main(args) -> int:
    path = write_report(stored_suite(args.out, args.suite))
    print(f"wrote {path}")
    return 0
