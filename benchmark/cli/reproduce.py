"""``reproduce``: a paper table, ours beside the published numbers."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from benchmark.cli._common import add_plugins, positive
from benchmark.core.store import check_output_dir
from benchmark.harness.reproduce import REPRODUCTIONS


def add_parser(sub) -> None:
    rep = sub.add_parser("reproduce", allow_abbrev=False, help="a paper table, ours beside the published numbers")
    rep.add_argument("name", choices=["vrpo-ablation"], help="vrpo-ablation: LLaDA 1.5 Table 2 (estimator variance)")
    rep.add_argument("--suite", default="tiny", help="suite whose family is measured (default: tiny)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results/)")
    rep.add_argument("--train", action="store_true", help="also train ELBO-DPO with each setting and score it")
    rep.add_argument("--pairs", type=positive, default=128, help="preference pairs (paper: 128)")
    rep.add_argument("--estimates", type=positive, default=8, help="estimates per pair, K (paper: 8)")
    rep.add_argument("--cache-dir", type=Path, help="family cache")
    rep.add_argument("--data-dir", type=Path, help="where a preference-data suite's files are looked up (smol)")
    add_plugins(rep)
    rep.set_defaults(handler=main)


def main(args) -> int:
    check_output_dir(args.out, "--out")

    with contextlib.redirect_stdout(sys.stderr):  # training logs go to stderr; stdout is the table
        table = REPRODUCTIONS[args.name](args.suite, args.out, train=args.train, pairs=args.pairs,
                                         k=args.estimates, cache_dir=args.cache_dir, data_dir=args.data_dir)
    print(table.to_markdown(index=False, floatfmt=".4g"))
    print(f"written: {args.out / (args.name + '.csv')}")
    return 0
