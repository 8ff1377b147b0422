"""``python -m benchmark``: the command line, one module per command (as lm-eval's ``_cli/``).

    python -m benchmark run --all                      # every method x task x 3 seeds on the tiny suite
    python -m benchmark run --methods base,ar-map --tasks arith --seeds 1
    python -m benchmark run --all --plugins my_method.py
    python -m benchmark eval --task gsm8k --model-dir DIR --data gsm8k.jsonl      # one checkpoint, one task
    python -m benchmark eval --lm-eval TASKS --include-path DIR --model-dir DIR  # lm-eval tasks
    python -m benchmark eval --prompts P.jsonl --answers-out A.jsonl --model-dir DIR   # answers only
    python -m benchmark eval --answers A.jsonl --base B.jsonl --judge rule        # win rate of two files
    python -m benchmark transfer --student DLLM --lora ADAPTER --gamma 6 --out MERGED
    python -m benchmark reproduce vrpo-ablation --suite tiny --out results [--train]
    python -m benchmark list [--json]
    python -m benchmark leaderboard --out results
    python -m benchmark report --out results          # results/tiny/report.html
    python -m benchmark compare results-a/ results-b/   # do two folders agree within their intervals?

This is the top layer: it may import everything below it, but imports a command's engine only when the
command runs, so ``--help`` and ``list`` stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from benchmark.cli import aliases, cell, compare, eval_cmd, leaderboard, listing, report, reproduce, run, transfer
from benchmark.cli._common import positive
from benchmark.core.errors import BenchmarkError
from benchmark.core.provenance import cores_available
from benchmark.core.registry import PluginError, RegistryError, load_plugin_file

COMMANDS = (run, cell, listing, eval_cmd, transfer, reproduce, leaderboard, report, compare, aliases)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark", allow_abbrev=False, description=(
        "Preference alignment of diffusion LMs: AR-MAP beside DLLM-native methods, on shared tasks."))
    parser.add_argument("--plugins", action="append", default=[], metavar="FILE.py",
                        help="import a Python file that registers methods/tasks/families (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--threads", type=positive, default=None, metavar="N",
                        help="torch CPU threads (default: the cores available to this process); recorded in "
                             "every cell. One thread per process is fastest on a loaded machine")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def set_threads(threads: int | None) -> int:
    """Fix the CPU thread count before any library starts its pools (torch is only imported if it already
    is, or later by the command itself, which then reads these variables)."""
    n = threads or cores_available()
    if n > cores_available():
        logging.getLogger(__name__).warning("--threads %d is more than the %d cores available to this process; "
                                            "using %d", n, cores_available(), cores_available())
        n = cores_available()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["DLLM_BENCH_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return n


def _terminate(signum, frame) -> None:
    """SIGTERM (a scheduler's kill, ``timeout``) unwinds like Ctrl-C, so temporary folders are removed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "datasets", "transformers", "trl", "peft", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not args.verbose else logging.INFO)
    set_threads(args.threads)
    try:
        for path in args.plugins + getattr(args, "run_plugins", []):
            load_plugin_file(path)
        return args.handler(args)
    except (BenchmarkError, RegistryError, PluginError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was stored stays; a rerun resumes
        print("interrupted (stored cells are kept; rerun the same command to resume)", file=sys.stderr)
        return 130
