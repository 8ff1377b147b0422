"""``leaderboard``: rebuild the leaderboard from stored results (runs nothing)."""

from __future__ import annotations

from pathlib import Path

from benchmark.cli._common import stored_suite
from benchmark.harness.leaderboard import to_markdown, write_leaderboard


def add_parser(sub) -> None:
    board = sub.add_parser("leaderboard", allow_abbrev=False,
                           help="rebuild the leaderboard from stored results (runs nothing)")
    board.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    board.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    board.set_defaults(handler=main)


def main(args) -> int:
    print(to_markdown(write_leaderboard(stored_suite(args.out, args.suite))))
    return 0
