"""The runner and the result store: end to end on the micro suite, resume, reruns, kills, determinism."""

import json
import os
import subprocess
import sys

import pytest

from benchmark.cli import main
from benchmark.core.store import atomic_write_text
from benchmark.harness.runner import RunConfig, run
from tests.conftest import PLUGINS


def run_micro(tmp_path, cache_dir, methods, seeds=1, force=False, configs=None):
    cfg = RunConfig(suite="micro", methods=methods, seeds=seeds, out=tmp_path, force=force,
                    cache_dir=cache_dir, method_configs=configs or {})
    return run(cfg)


def records(root):
    return {p.relative_to(root).as_posix(): json.loads(p.read_text())
            for p in sorted((root / "micro" / "cells").rglob("seed*.json"))}


def test_plugin_method_from_a_file_runs_and_is_ranked(tmp_path, cache_dir, micro_pair, capsys):
    rc = main(["--plugins", str(PLUGINS / "constant_method.py"), "--plugins", str(PLUGINS / "micro_suite.py"),
               "run", "--suite", "micro", "--methods", "plugin-copy", "--seeds", "2", "--out", str(tmp_path),
               "--cache-dir", str(cache_dir)])
    assert rc == 0
    board = json.loads((tmp_path / "micro" / "leaderboard.json").read_text())
    assert {r["method"] for r in board} == {"base", "plugin-copy"}
    row = next(r for r in board if r["method"] == "plugin-copy")
    assert row["rank_best"] >= 1 and row["seeds"] == 2
    # The plugin returns the base model unchanged: same answers, so every comparison is a tie.
    assert row["arith_win"] == 50.0 and row["facts_win"] == 50.0
    assert "plugin-copy" in capsys.readouterr().out


def test_record_schema(tmp_path, cache_dir, micro_pair):
    run_micro(tmp_path, cache_dir, ["plugin-copy"])
    rec = records(tmp_path)["micro/cells/micro/plugin-copy/arith/seed0.json"]
    assert rec["schema"] == 1 and len(rec["config_hash"]) == 12
    method = rec["config"]["unit"]["method"]
    assert {k: method[k] for k in ("name", "config")} == {"name": "plugin-copy", "config": {"tag": "v1"}}
    assert method["source"][0]["class"].endswith(":PluginCopyMethod") and len(method["source"][0]["sha256"]) == 16
    assert rec["hardware"]["torch"]["threads"] >= 1 and rec["hardware"]["cpu"]["model"]
    assert set(rec["metrics"]) == {"score", "win_rate"} and rec["main_metric"] == "score"
    assert all({"value", "stderr"} <= set(m) for m in rec["metrics"].values())
    assert {"wall_s", "forward_passes", "tokens", "peak_rss_mb"} <= set(rec["cost"]["eval"])
    assert rec["cost"]["eval"]["forward_passes"] > 0, "generation runs the model"
    assert rec["versions"]["torch"] and "git_revision" in rec and rec["n_eval"] == 8
    samples = (tmp_path / "micro/cells/micro/plugin-copy/arith/seed0.samples.jsonl").read_text().splitlines()
    assert len(samples) == 8 and {"prompt", "response", "scores", "win"} <= set(json.loads(samples[0]))


def test_rerun_skips_config_change_reruns_force_reruns(tmp_path, cache_dir, micro_pair):
    plugin = next(m for name, m in sys.modules.items() if name.startswith("benchmark_plugin_constant_method"))
    calls = plugin.CALLS
    start = len(calls)
    run_micro(tmp_path, cache_dir, ["plugin-copy"])
    assert len(calls) - start == 2  # two tasks x one seed
    first = records(tmp_path)
    run_micro(tmp_path, cache_dir, ["plugin-copy"])
    assert len(calls) - start == 2, "finished cells are not rerun"
    assert records(tmp_path) == first
    config = plugin.PluginCopyMethod.Config(tag="v2")
    run_micro(tmp_path, cache_dir, ["plugin-copy"], configs={"plugin-copy": config})
    assert len(calls) - start == 4, "a changed config reruns its cells"
    run_micro(tmp_path, cache_dir, ["plugin-copy"], force=True, configs={"plugin-copy": config})
    assert len(calls) - start == 6, "--force reruns"


def test_same_seed_gives_identical_metrics_on_force_rerun(tmp_path, cache_dir, micro_pair):
    run_micro(tmp_path, cache_dir, ["ar-map", "elbo-dpo"])
    first = {k: v["metrics"] for k, v in records(tmp_path).items()}
    run_micro(tmp_path, cache_dir, ["ar-map", "elbo-dpo"], force=True)
    second = {k: v["metrics"] for k, v in records(tmp_path).items()}
    assert first == second
    assert len(first) == 6  # base, ar-map, elbo-dpo on two tasks


def test_killed_run_leaves_no_corrupt_result_and_rerun_completes(tmp_path, cache_dir, micro_pair):
    cmd = [sys.executable, "-m", "benchmark", "--plugins", str(PLUGINS / "micro_suite.py"),
           "--plugins", str(PLUGINS / "sudden_death.py"), "run", "--suite", "micro", "--methods", "sudden-death",
           "--seeds", "2", "--out", str(tmp_path), "--cache-dir", str(cache_dir)]
    env = {**os.environ, "BENCH_DIE_AT": "arith/1", "TQDM_DISABLE": "1"}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    partial = records(tmp_path)  # every file present parses
    assert "micro/cells/micro/sudden-death/arith/seed0.json" in partial
    assert "micro/cells/micro/sudden-death/arith/seed1.json" not in partial
    env.pop("BENCH_DIE_AT")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(records(tmp_path)) == 8  # (base + sudden-death) x 2 tasks x 2 seeds
    assert not list((tmp_path / "micro").glob(".work-*")), "the killed run's work folder was cleaned up"
    assert "sudden-death" in (tmp_path / "micro" / "leaderboard.md").read_text()


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "cell.json"
    atomic_write_text(path, '{"old": true}')

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, '{"new": true}')
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["cell.json"], "no temporary file left behind"


def test_family_is_cached_by_config_hash(micro_pair, cache_dir):
    from benchmark.core.api import FamilyContext
    from benchmark.core.registry import FAMILIES, TASKS

    built = (micro_pair.ar_path.parent / "build.json").stat().st_mtime_ns
    tasks = [TASKS.get("arith")(), TASKS.get("facts")()]
    again = FAMILIES.get("micro")().prepare(FamilyContext(tasks, cache_dir))
    assert again == micro_pair
    assert (again.ar_path.parent / "build.json").stat().st_mtime_ns == built, "cached, not rebuilt"
    other = FAMILIES.get("micro")().prepare(FamilyContext(tasks[:1], cache_dir))
    assert other.build_hash != micro_pair.build_hash, "a different corpus is a different build"
