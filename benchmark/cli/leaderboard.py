"""``leaderboard``: rebuild the leaderboard from stored results (runs nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.harness.leaderboard import to_markdown, write_leaderboard


def add_parser(sub) -> None:
    board = sub.add_parser("leaderboard", allow_abbrev=False,
                           help="rebuild the leaderboard from stored results (runs nothing)")
    board.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    board.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    board.set_defaults(handler=main)


def main(args) -> int:
    root = args.out / args.suite
    if not (root / "cells").is_dir():
        print(f"error: no results under {root}/cells; run `python -m benchmark run` first", file=sys.stderr)
        return 2
    print(to_markdown(write_leaderboard(root)))
    return 0
