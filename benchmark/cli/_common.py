"""Argument types and option groups shared by several commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from benchmark.core.errors import BenchmarkError


def names(value: str) -> list[str]:
    out = [v.strip() for v in value.split(",") if v.strip()]
    if not out:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return out


def positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def gamma(value: str) -> float | str:
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--gamma must be a number or 'auto', got {value!r}") from None
    if not math.isfinite(number) or abs(number) > MAX_GAMMA:
        raise argparse.ArgumentTypeError(f"--gamma must be a finite number of magnitude at most {MAX_GAMMA:g} "
                                         f"(AR-MAP uses 1 to 8), got {value!r}")
    return number


MAX_GAMMA = 1e4  # beyond it fp32 weights overflow long before anything is learned


def add_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugins", action="append", default=[], metavar="FILE.py", dest="run_plugins",
                        help="as the top-level --plugins")


def add_checkpoint(parser: argparse.ArgumentParser, stored: bool = True, model_required: bool = True) -> None:
    """The checkpoint, and where its cell is stored."""
    parser.add_argument("--model-dir", type=Path, required=model_required, help="checkpoint folder")
    parser.add_argument("--kind", choices=["dllm", "ar"], default="dllm", help="DLLM (ELBO, sampler) or AR")
    parser.add_argument("--limit", type=positive, help="only the first N items")
    if stored:
        parser.add_argument("--method", help="method (leaderboard row) of the stored cells (default: the "
                            "checkpoint folder's name, or the answers file's stem)")
        parser.add_argument("--family", default="custom", help="family name of the stored cells")
        parser.add_argument("--suite", default="lm-eval", help="store folder under --out (default: lm-eval)")
        parser.add_argument("--out", type=Path, default=Path("results"))


def model_args(text: str) -> dict:
    """lm-eval's own ``k=v,k=v`` parser, so that numbers and booleans arrive typed, as with ``lm_eval``."""
    from lm_eval.utils import simple_parse_args_string

    bad = [part for part in text.split(",") if part.strip() and "=" not in part]
    if bad:
        raise BenchmarkError(f"--model-args expects K=V,K=V; {bad[0]!r} has no '='")
    try:
        return simple_parse_args_string(text) if text else {}
    except ValueError as exc:
        raise BenchmarkError(f"--model-args expects K=V,K=V, got {text!r} ({exc})") from exc


def stored_suite(out: Path, suite: str) -> Path:
    """``OUT/SUITE``, which must hold results (commands that only read the store)."""
    root = Path(out) / suite
    if not (root / "cells").is_dir():
        raise BenchmarkError(f"no results under {root}/cells; run `python -m benchmark run` first")
    return root
