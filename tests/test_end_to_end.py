"""The acceptance run: ``run --all`` on the real tiny family (built from scratch: a few minutes).

Runs in a subprocess so that plugins other tests registered in this process do not join ``--all``.
"""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_run_all_on_the_tiny_family(tmp_path, tiny_cache_dir):
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmark", "run", "--all", "--seeds", "1", "--out", str(out),
           "--cache-dir", str(tiny_cache_dir)]  # the family is built here once and shared with other slow tests
    env = {**os.environ, "TQDM_DISABLE": "1"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    board = json.loads((out / "tiny" / "leaderboard.json").read_text())
    methods = {r["method"] for r in board}
    assert {"base", "ar-dpo", "ar-map", "ar-map-auto", "elbo-dpo", "vrpo"} <= methods
    for row in board:
        for task in ("arith", "facts", "listing"):
            assert row[task] == row[task] and row[f"{task}_ci95"] == row[f"{task}_ci95"], (row["method"], task)
    assert "| rank | family | method |" in first.stdout
    cells = sorted((out / "tiny" / "cells").rglob("seed*.json"))
    assert len(cells) == len(methods) * 3 * 1  # one seed keeps CI in budget; intervals still resample prompts
    stamps = [p.stat().st_mtime_ns for p in cells]
    # Rerun: every cell is already done; only the leaderboard is rebuilt.
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 unit(s) run" in second.stderr
    assert [p.stat().st_mtime_ns for p in cells] == stamps
