"""Wall time of a suite's cell grid run serially and as Ray tasks on a local cluster (prints both figures).

    python perf/ray_vs_serial.py                          # tiny suite, 1 seed, every method
    python perf/ray_vs_serial.py --seeds 2 --methods base,ar-dpo,ar-map

Both runs start from an empty result folder and share one family cache (built before either is timed), and
torch uses one thread per process (the serial run's process, and each Ray worker), so the difference is the
parallelism over cells. The two leaderboards are compared cell by cell.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_run(out: Path, args, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "benchmark", "--threads", "1", "run", "--suite", args.suite, "--seeds",
           str(args.seeds), "--out", str(out), *(["--methods", args.methods] if args.methods else ["--all"]), *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="tiny")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--methods", help="A,B (default: every method)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ray-vs-serial-"))
    os.environ.setdefault("DLLM_BENCH_CACHE", str(work / "cache"))
    # Build the family first (a one-method run), so neither timed run includes it.
    subprocess.run([sys.executable, "-m", "benchmark", "run", "--suite", args.suite, "--seeds", "1", "--methods",
                    "base", "--out", str(work / "warm")], check=True, capture_output=True, cwd=ROOT)
    serial = timed_run(work / "serial", args, [])
    ray = timed_run(work / "ray", args, ["--executor", "ray"])
    cores = len(os.sched_getaffinity(0))
    print(f"suite {args.suite}, {args.seeds} seed(s), {args.methods or 'every method'}; {cores} cores, 1 torch "
          "thread per process")
    print(f"serial executor: {serial:7.1f} s")
    print(f"ray executor:    {ray:7.1f} s   (local cluster of {cores} CPUs, one cell per CPU)")
    print(f"speed-up: {serial / ray:.2f}x")
    boards = [json.loads((work / w / args.suite / "leaderboard.json").read_text()) for w in ("serial", "ray")]
    def scores(row: dict) -> dict:
        timing = ("cost", "time", "wall", "forwards", "tokens")
        return {k: v for k, v in row.items() if not any(w in k for w in timing) and not k.endswith("_s")}

    same = all(scores(a) == scores(b) for a, b in zip(*boards))
    print(f"leaderboards identical: {same and len(boards[0]) == len(boards[1])}")


if __name__ == "__main__":
    main()
