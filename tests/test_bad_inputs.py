"""Bad input gets a clear error (exit 2, ``error: ...`` naming the file, flag or setting) before any
long work; nothing already written is lost; leftovers of killed processes are cleaned, live ones kept."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from benchmark.cli import main
from benchmark.core.errors import BenchmarkError
from benchmark.core.store import CellKey, FolderLock, ResultStore, atomic_write_text, cache_root, make_work_dir
from benchmark.harness.runner import RunConfig, run
from tests.conftest import PLUGINS


def test_a_misspelt_model_argument_is_refused_with_a_suggestion(micro_pair, tmp_path, capsys):
    data = tmp_path / "gsm.jsonl"
    data.write_text(json.dumps({"question": "1 plus 1 ?", "answer": "#### 2"}) + "\n")
    assert main(["eval", "--task", "gsm8k", "--model-dir", str(micro_pair.dllm_path), "--data", str(data),
                 "--model-args", "blok_length=32", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown argument(s) 'blok_length' (did you mean 'block_length'?)" in err
    assert not (tmp_path / "lm-eval" / "cells").exists(), "nothing was stored"


def test_device_cuda_without_a_gpu_is_a_clear_error(micro_pair, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"instruction": "hi"}) + "\n")
    assert main(["eval", "--prompts", str(prompts), "--answers-out", str(tmp_path / "a.jsonl"), "--model-dir",
                 str(micro_pair.dllm_path), "--model-args", "device=cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_a_dllm_without_a_mask_token_is_refused_before_the_model_loads(micro_pair, tmp_path, capsys):
    folder = tmp_path / "no-mask"
    shutil.copytree(micro_pair.dllm_path, folder)
    for name in ("tokenizer_config.json", "config.json", "special_tokens_map.json"):
        path = folder / name
        if path.is_file():
            cfg = json.loads(path.read_text())
            cfg.pop("mask_token", None), cfg.pop("mask_token_id", None)
            path.write_text(json.dumps(cfg))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"instruction": "hi"}) + "\n")
    assert main(["eval", "--prompts", str(prompts), "--answers-out", str(tmp_path / "a.jsonl"),
                 "--model-dir", str(folder)]) == 2
    assert "needs a mask token" in capsys.readouterr().err


def test_an_answers_file_that_is_a_folder_fails_before_any_answer(micro_pair, tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"instruction": "hi"}) + "\n")
    (tmp_path / "taken").mkdir()
    for argv in (["answers", "--out", str(tmp_path / "taken")], ["eval", "--answers-out", str(tmp_path / "taken")]):
        assert main([*argv, "--prompts", str(prompts), "--model-dir", str(micro_pair.dllm_path)]) == 2
        assert "is a folder" in capsys.readouterr().err


def test_out_that_is_a_file_or_a_full_disk(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    assert main(["run", "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["run", "--out", str(tmp_path / "file" / "below")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1024))
    assert main(["run", "--out", str(tmp_path / "new")]) == 2
    assert "MiB free" in capsys.readouterr().err


def test_cache_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLM_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "dllm-align-bench"
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("DLLM_BENCH_CACHE", str(tmp_path / "f"))
    with pytest.raises(BenchmarkError, match=r"\$DLLM_BENCH_CACHE .*is a file"):
        cache_root()


def test_a_damaged_family_cache_says_rebuild(micro_plugins, micro_pair, cache_dir, tmp_path, capsys):
    copy = tmp_path / "cache"
    shutil.copytree(cache_dir, copy)
    family = next((copy / "families").glob("micro-*"))
    (family / "dllm" / "config.json").write_text('{"vocab_si')  # truncated
    (family / "ar" / "model.safetensors").unlink()
    rc = main(["--plugins", str(PLUGINS / "micro_suite.py"), "run", "--suite", "micro", "--methods", "base",
               "--seeds", "1", "--out", str(tmp_path / "res"), "--cache-dir", str(copy)])
    err = capsys.readouterr().err
    assert rc == 2 and "--rebuild" in err and "dllm/config.json is not valid JSON" in err
    assert "ar/model.safetensors is missing" in err


def test_stale_build_folders_are_removed_and_live_ones_kept(micro_plugins, micro_pair, cache_dir, tmp_path):
    from benchmark.core.api import FamilyContext
    from benchmark.core.registry import FAMILIES, TASKS

    copy = tmp_path / "cache"
    shutil.copytree(cache_dir, copy)
    families = copy / "families"
    dead = families / ".build-dead"
    dead.mkdir()
    (dead / ".owner").write_text(f"{os.uname().nodename} 999999999\n")  # no such process
    live = make_work_dir(families, ".build-")  # owned by this (live) process
    tasks = [TASKS.get("arith")(), TASKS.get("facts")()]
    FAMILIES.get("micro")().prepare(FamilyContext(tasks[:1], copy))  # a new build triggers the cleanup
    assert not dead.exists() and live.exists()


def test_sigterm_during_a_family_build_leaves_no_build_folder(micro_plugins, tmp_path):
    code = ("import os, signal, sys; from benchmark.cli import main; import benchmark.models.tiny as t; "
            "t.build_tiny_family = lambda *a: os.kill(os.getpid(), signal.SIGTERM); "
            f"sys.exit(main(['--plugins', {str(PLUGINS / 'micro_suite.py')!r}, 'run', '--suite', 'micro', "
            f"'--methods', 'base', '--seeds', '1', '--out', {str(tmp_path / 'res')!r}, "
            f"'--cache-dir', {str(tmp_path / 'cache')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    assert done.returncode == 128 + 15, done.stderr[-1500:]
    assert not list((tmp_path / "cache" / "families").glob(".build-*"))


def test_a_second_run_on_a_locked_folder_stops_at_once(micro_plugins, micro_pair, cache_dir, tmp_path):
    with FolderLock(tmp_path / "micro", "a test"):
        with pytest.raises(BenchmarkError, match="is in use by pid"):
            run(RunConfig(suite="micro", methods=["base"], seeds=1, out=tmp_path, cache_dir=cache_dir))


def test_a_live_runs_work_folder_is_not_removed(micro_plugins, micro_pair, cache_dir, tmp_path):
    live = make_work_dir(tmp_path / "micro", ".work-other-")
    live_elsewhere = tmp_path / "micro" / ".work-remote"
    live_elsewhere.mkdir()
    (live_elsewhere / ".owner").write_text("another-host 1\n")
    run(RunConfig(suite="micro", methods=["base"], seeds=1, out=tmp_path, cache_dir=cache_dir))
    assert live.exists() and live_elsewhere.exists()


def test_a_plugin_whose_align_raises_is_named_with_its_cell(micro_plugins, micro_pair, cache_dir, tmp_path, capsys):
    rc = main(["--plugins", str(PLUGINS / "micro_suite.py"), "--plugins", str(PLUGINS / "broken_method.py"),
               "run", "--suite", "micro", "--methods", "broken", "--seeds", "1", "--out", str(tmp_path),
               "--cache-dir", str(cache_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "method 'broken'" in err and "micro/broken/arith/seed0" in err and "ZeroDivisionError" in err


def test_incomplete_records_are_skipped_and_named(tmp_path, caplog):
    store = ResultStore(tmp_path)
    key = CellKey("s", "f", "m", "t", 0)
    atomic_write_text(store.record_path(key), "{}")
    with caplog.at_level("WARNING"):
        assert list(store.records()) == []
    assert store.skipped and "missing field(s) cell" in store.skipped[0]
    assert str(store.record_path(key)) in caplog.text
    assert main(["leaderboard", "--out", str(tmp_path.parent), "--suite", tmp_path.name]) == 0


def test_a_truncated_samples_file_reruns_its_cell(tmp_path):
    store = ResultStore(tmp_path)
    key = CellKey("s", "f", "m", "t", 0)
    store.write(key, {"config_hash": "h", "cell": {}, "metrics": {}, "main_metric": "x", "cost": {}},
                [{"prompt": "p", "response": "r"}] * 3)
    assert store.is_done(key, "h")
    path = store.samples_path(key)
    path.write_text(path.read_text()[:-10])
    assert not store.is_done(key, "h")
    with pytest.raises(BenchmarkError, match=rf"{path.name}:3: unreadable sample"):
        store.samples(key)


def test_result_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_reproduce_says_which_suites_it_supports(capsys, tmp_path):
    assert main(["reproduce", "vrpo-ablation", "--suite", "paper", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "suite 'paper'" in err and "Suites it supports: " in err and "tiny" in err


def test_reward_model_judge_without_a_model_is_a_message(tmp_path, capsys):
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"raw_prompt": "q", "responses": ["x"]}) + "\n")
    assert main(["eval", "--answers", str(tmp_path / "a.jsonl"), "--base", str(tmp_path / "b.jsonl"),
                 "--judge", "reward-model"]) == 2
    assert "needs a model folder" in capsys.readouterr().err


def test_run_prints_only_the_table_on_stdout(micro_plugins, micro_pair, cache_dir, tmp_path):
    cmd = [sys.executable, "-m", "benchmark", "--plugins", str(PLUGINS / "micro_suite.py"), "run", "--suite",
           "micro", "--methods", "elbo-dpo", "--tasks", "arith", "--seeds", "1", "--out", str(tmp_path),
           "--cache-dir", str(cache_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("| rank |") and not any("'loss'" in line for line in lines), done.stdout[:500]


def test_an_unknown_pairs_format_fails_before_any_work(tmp_path, capsys):
    assert main(["transfer", "--student", str(tmp_path), "--lora", str(tmp_path), "--gamma", "auto", "--pairs",
                 str(tmp_path / "p.jsonl"), "--pairs-format", "hh", "--out", str(tmp_path / "out")]) == 2
    assert "unknown preference data format 'hh'" in capsys.readouterr().err


def test_reproduce_runs_twice_into_one_folder(micro_plugins, micro_pair, cache_dir, tmp_path, capsys):
    """The second call reruns (a fresh work folder each time) instead of tripping over the first's files."""
    argv = ["--plugins", str(PLUGINS / "micro_suite.py"), "reproduce", "vrpo-ablation", "--suite", "micro",
            "--out", str(tmp_path), "--pairs", "4", "--estimates", "2", "--cache-dir", str(cache_dir)]
    assert main(argv) == 0
    first = (tmp_path / "vrpo-ablation.csv").read_text()
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    assert (tmp_path / "vrpo-ablation.csv").read_text() == first, "the same seed gives the same table"
    assert not list((tmp_path / "micro").glob(".reproduce-*")), "no work folder left behind"
