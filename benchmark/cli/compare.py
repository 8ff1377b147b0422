"""``compare A B``: whether two result folders agree, method by method, within their intervals."""

from __future__ import annotations

from pathlib import Path

from benchmark.harness.compare import compare, to_markdown


def add_parser(sub) -> None:
    cmp = sub.add_parser("compare", allow_abbrev=False,
                         help="do two result folders agree (scores within intervals, rank ranges, verdicts)?")
    cmp.add_argument("a", type=Path, help="result folder (a suite folder, or an --out folder holding one)")
    cmp.add_argument("b", type=Path, help="the other result folder")
    cmp.add_argument("--suite", help="suite folder to pick under A and B (default: the only one)")
    cmp.add_argument("--strict", action="store_true", help="exit 1 when they disagree")
    cmp.set_defaults(handler=main)


def main(args) -> int:
    result = compare(args.a, args.b, args.suite)
    print(to_markdown(result, str(args.a), str(args.b)), end="")
    return 1 if args.strict and not result.agree else 0
