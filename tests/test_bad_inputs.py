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
    for built in families.glob("micro-*"):  # whatever earlier tests built: this prepare must build
        shutil.rmtree(built)
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
    assert store.skipped and "missing or malformed field(s) cell" in store.skipped[0]
    assert str(store.record_path(key)) in caplog.text
    assert main(["leaderboard", "--out", str(tmp_path.parent), "--suite", tmp_path.name]) == 0
    good = {"cell": key.__dict__, "config_hash": "x", "main_metric": "score", "metrics": {"score": {"value": 1.0}},
            "cost": {"align": {"wall_s": 0, "forward_passes": 0, "tokens": 0}}}
    for broken, field in (({**good, "metrics": {"score": {"value": "high"}}}, "not a number: 'high'"),
                          ({**good, "cost": {"eval": {}}}, "cost.align")):
        atomic_write_text(store.record_path(key), json.dumps(broken))
        assert list(store.records()) == [] and field in store.skipped[0], store.skipped


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
    (tmp_path / "in").mkdir()
    assert main(["transfer", "--student", str(tmp_path / "in"), "--lora", str(tmp_path / "in"), "--gamma", "auto",
                 "--pairs", str(tmp_path / "p.jsonl"), "--pairs-format", "hh", "--out", str(tmp_path / "out")]) == 2
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


# ----------------------------------------------------------------------------------------------- one row per bad input
def _suite_file(tmp_path, suite: str = "", extra: str = "") -> list[str]:
    """A valid one-task suite file on the micro family; ``suite`` lines replace [suite] keys."""
    keys = {"name": '"mine"', "families": '["micro"]', "tasks": '["arith"]', "methods": '["base"]'}
    for line in filter(None, suite.splitlines()):
        key, value = line.split("=", 1)
        keys[key.strip()] = value.strip()
    body = "[suite]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) + extra
    path = tmp_path / "mine.toml"
    path.write_text(body)
    return ["--plugins", str(PLUGINS / "micro_suite.py"), "run", "--suite", str(path), "--out", str(tmp_path / "out")]


def _eval_method(tmp_path, method: str) -> list[str]:
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"instruction": "hi", "output": "hello"}) + "\n")
    base = tmp_path / "b.jsonl"
    base.write_text(json.dumps({"instruction": "hi", "output": "hey"}) + "\n")
    return ["eval", "--task", "alpacaeval", "--data", str(answers), "--set", f"answers={answers}", "--set",
            f"base={base}", "--set", "judge=rule", "--method", method, "--out", str(tmp_path / "out")]


def _compare_disjoint(tmp_path) -> list[str]:
    for folder, task in (("a", "facts"), ("b", "listing")):
        store = ResultStore(tmp_path / folder / "s")
        for method in ("base", "m"):
            key = CellKey("s", "f", method, task, 0)
            store.write(key, {"cell": key.__dict__, "config_hash": "x", "main_metric": "score",
                              "metrics": {"score": {"value": 50.0}}, "cost": {"align": {
                                  "wall_s": 0, "forward_passes": 0, "tokens": 0}}},
                        [{"prompt": "p", "scores": {"score": 0.5}}])
    return ["compare", str(tmp_path / "a" / "s"), str(tmp_path / "b" / "s")]


BAD_INPUTS = [  # (id, argv from tmp_path, message); each must exit 2 before work and write nothing outside --out
    ("suite name escaping --out", lambda t: _suite_file(t, 'name = "../escaped"'),
     r"\[suite\] key 'name'.*cannot name"),
    ("empty suite name", lambda t: _suite_file(t, 'name = ""'), r"\[suite\] key 'name'.*cannot name a folder"),
    ("method name escaping --out", lambda t: _eval_method(t, "../escaped"), r"method '../escaped' cannot name"),
    ("empty methods list", lambda t: _suite_file(t, "methods = []"), r"key 'methods' is an empty list"),
    ("family name escaping --out", lambda t: _suite_file(t, extra='[families."../x"]\nar = "a"\ndllm = "b"\n'),
     r"\[families.../x\]: family name '../x' cannot name a folder"),
    ("empty families list", lambda t: _suite_file(t, "families = []"), r"key 'families' is an empty list"),
    ("a task named twice", lambda t: _suite_file(t, 'tasks = ["arith", "arith"]'), r"key 'tasks' names an entry twice"),
    ("NaN method setting", lambda t: _suite_file(t, extra="[methods.elbo-dpo]\nbeta = nan\n"),
     r"\[methods.elbo-dpo\] key 'beta' must be a finite number"),
    ("NaN budget", lambda t: _suite_file(t, extra="[budget]\nbeta = nan\n"),
     r"\[budget\] key 'beta' must be a finite number"),
    ("negative method setting", lambda t: _suite_file(t, extra="[methods.vrpo]\nn_t = -2\n"),
     r"\[methods.vrpo\] key 'n_t' must not be negative"),
    ("a held-out count that would hang", lambda t: _suite_file(t, "n_heldout = 100000000"),
     r"key 'n_heldout' must be >= 0 \(and at most 10,000,000\)"),
    ("--device cuda without a GPU", lambda t: ["run", "--device", "cuda", "--out", str(t / "out")], r"no CUDA device"),
    ("compare of folders sharing no task", _compare_disjoint, r"share no task"),
]


@pytest.mark.parametrize("name,argv,message", BAD_INPUTS, ids=[r[0] for r in BAD_INPUTS])
def test_bad_input_exits_2_before_work_and_writes_nothing_outside_out(tmp_path, capsys, name, argv, message):
    import re

    import torch

    if "cuda" in name and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = argv(tmp_path)
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    assert main(args) == 2, name
    assert re.search(message, capsys.readouterr().err), (name, message)
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before, "nothing written beside the test folder"
    assert not list((tmp_path / "out").rglob("*.json")) if (tmp_path / "out").exists() else True


def test_ctrl_c_exits_130_and_threads_are_capped(monkeypatch, capsys):
    from benchmark.cli import set_threads
    from benchmark.core.provenance import cores_available

    def interrupted(args):
        raise KeyboardInterrupt

    parser_main = sys.modules["benchmark.cli"].main
    import argparse

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: argparse.Namespace(
        verbose=False, threads=1, plugins=[], handler=interrupted))
    assert parser_main(["list"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert set_threads(4096) == cores_available()


def test_no_load_may_run_or_ask_for_remote_code(tmp_path, monkeypatch):
    import transformers

    from benchmark.models.loading import load_model

    seen = []
    original = transformers.AutoConfig.from_pretrained

    def spy(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", spy)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "custom-llm", "auto_map": {
        "AutoConfig": "configuration_custom.CustomConfig"}}))
    (tmp_path / "configuration_custom.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ValueError, match="LAYOUT_OF_MODEL_TYPE"):
        load_model(tmp_path, "dllm")
    assert seen == [False]


def test_outputs_that_are_or_hold_an_input_are_refused_and_nothing_is_removed(micro_pair, tmp_path, capsys):
    student = tmp_path / "student"
    shutil.copytree(micro_pair.dllm_path, student)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    for out in (tmp_path, student / "merged", student):  # the parent of both inputs, inside one, the input
        argv = ["transfer", "--student", str(student), "--lora", str(adapter), "--gamma", "1", "--out", str(out),
                "--overwrite"]
        assert main(argv) == 2, out
        assert "--out" in capsys.readouterr().err
    assert notes.read_text() == "keep me" and (student / "config.json").is_file() and adapter.is_dir()
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"instruction": "hi"}) + "\n")
    assert main(["eval", "--prompts", str(prompts), "--answers-out", str(prompts), "--model-dir",
                 str(micro_pair.dllm_path)]) == 2
    assert "--answers-out" in capsys.readouterr().err and prompts.read_text().startswith('{"instruction"')


def test_a_shard_name_outside_the_checkpoint_is_refused(micro_pair, tmp_path):
    from benchmark.align.checkpoint import Checkpoint, TransferError

    student = tmp_path / "student"
    shutil.copytree(micro_pair.dllm_path, student)
    (student / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "../evil.safetensors"}}))
    with pytest.raises(TransferError, match="not a file name inside the checkpoint folder"):
        Checkpoint(student)


@pytest.mark.parametrize("rows,message", [
    ([{"question": "q1", "answer": "so #### four"}], "must end in '#### <number>', got '#### four'"),
    ([{"question": "q1", "answer": "#### 4"}, {"question": "q1", "answer": "#### 5"}], "twice with different"),
])
def test_gsm8k_rows_whose_gold_cannot_score_are_refused(tmp_path, rows, message):
    from benchmark.core.data import DataError
    from benchmark.core.registry import EVAL_TASKS
    from benchmark.eval.eval_task import EvalRun

    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        EVAL_TASKS.get("gsm8k")().load(EvalRun(data=path))


def test_weights_retrained_in_place_are_not_served_from_a_stored_cell(micro_pair, tmp_path):
    from benchmark.harness.cells import _model_fingerprint

    model = tmp_path / "m"
    shutil.copytree(micro_pair.dllm_path, model)
    before = _model_fingerprint(model)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-4:] = bytes(4)  # same header and size, other values
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    assert _model_fingerprint(model) != before


def test_a_users_suite_named_like_another_is_refused_in_the_same_folder(micro_plugins, micro_pair, cache_dir,
                                                                         tmp_path, capsys):
    run(RunConfig(suite="micro", methods=["base"], tasks=["arith"], seeds=1, out=tmp_path, cache_dir=cache_dir))
    stored = sorted(p.stat().st_mtime_ns for p in (tmp_path / "micro" / "cells").rglob("*.json"))
    argv = _suite_file(tmp_path, 'name = "micro"')
    argv[argv.index("--out") + 1] = str(tmp_path)
    assert main(argv) == 2
    assert "holds the cells of suite 'micro' from python suite micro" in capsys.readouterr().err
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "micro" / "cells").rglob("*.json")) == stored


def test_a_gpu_cell_on_a_ray_cluster_without_one_is_an_error_not_a_hang(micro_plugins, cache_dir, tmp_path, capsys,
                                                                           monkeypatch):
    import tempfile

    pytest.importorskip("ray")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    argv = _suite_file(tmp_path, extra="[resources]\ngpus_per_cell = 1\n") + ["--executor", "ray", "--seeds", "1",
                                                                               "--cache-dir", str(cache_dir)]
    assert main(argv) == 2
    assert "gpus_per_cell = 1, but the Ray cluster has 0 GPU(s)" in capsys.readouterr().err


MICRO: list = []  # the micro pair, set by the test (rows are built at collection time)


def _gz_corrupt(t) -> str:
    import gzip

    path = t / "pairs.jsonl.gz"
    data = bytearray(gzip.compress(b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n' * 50))
    data[20:40] = bytes(20)  # a damaged deflate body
    path.write_bytes(bytes(data))
    return str(path)


def _data_file(t, name: str, body: str | bytes):
    path = t / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def _eval_gsm8k(t, data, *options) -> list[str]:
    return ["eval", "--task", "gsm8k", "--model-dir", str(MICRO[0].ar_path), "--kind", "ar", "--data", str(data),
            *[x for o in options for x in ("--set", o)], "--out", str(t / "out")]


MORE_BAD_INPUTS = [
    ("corrupt gzip body", lambda t: ["eval", "--task", "preference-accuracy", "--model-dir", str(MICRO[0].ar_path),
                                     "--kind", "ar", "--data", _gz_corrupt(t), "--set", "format=plain", "--out",
                                     str(t / "out")], r"not a readable gzip file"),
    ("JSON nested too deep", lambda t: _eval_gsm8k(t, _data_file(t, "d.json", "[" * 100_000 + "]" * 100_000)),
     r"nested too deeply"),
    ("one JSON object where rows are expected",
     lambda t: _eval_gsm8k(t, _data_file(t, "d.json", '{\n "question": "q",\n "answer": "#### 1"\n}')),
     r"holds one JSON object; expected a JSON array of rows"),
    ("an eval data path that is a folder", lambda t: _eval_gsm8k(t, t), r"is a folder; name the data file"),
    ("samples = 0", lambda t: _eval_gsm8k(t, _data_file(t, "g.jsonl", '{"question": "q", "answer": "#### 1"}\n'),
                                          "samples=0"), r"needs samples >= 1"),
    ("an unknown IFEval instruction",
     lambda t: ["eval", "--task", "ifeval", "--model-dir", str(MICRO[0].ar_path), "--kind", "ar", "--data",
                str(_data_file(t, "i.jsonl", json.dumps({"prompt": "p", "instruction_id_list": ["punctuation:no_coma"],
                                                         "kwargs": [{}]}) + "\n")), "--out", str(t / "out")],
     r"unknown IFEval instruction 'punctuation:no_coma' \(did you mean 'punctuation:no_comma'\?\)"),
    ("IFEval kwargs the instruction does not take",
     lambda t: ["eval", "--task", "ifeval", "--model-dir", str(MICRO[0].ar_path), "--kind", "ar", "--data",
                str(_data_file(t, "i.jsonl", json.dumps({"prompt": "p", "instruction_id_list": [
                    "punctuation:no_comma"], "kwargs": [{"num_words": 3}]}) + "\n")), "--out", str(t / "out")],
     r"'punctuation:no_comma' takes no arguments, not \['num_words'\]"),
    ("a sampler setting of the wrong type",
     lambda t: _suite_file(t, 'families = ["pair"]', extra='[families.pair]\nar = "x"\ndllm = "y"\n'
                           '[families.pair.sampler]\nsteps = "many"\n'), r"\[families.pair\].sampler key 'steps'"),
    ("a suite eval option out of range",
     lambda t: _suite_file(t, 'tasks = ["gsm8k"]', extra='[preference]\nformat = "plain"\nhub = "x/y"\n'
                           '[eval.gsm8k]\noptions = { samples = 0 }\n'), r"\[eval.gsm8k\].options: .*samples >= 1"),
    ("transfer --out that is a file", lambda t: ["transfer", "--student", str(t / "s"), "--lora", str(t / "s"),
                                                 "--gamma", "1", "--out", str(_data_file(t, "f.txt", "x"))],
     r"is a file; name a folder"),
    ("an overflowing gamma", lambda t: ["transfer", "--student", str(t / "s"), "--lora", str(t / "s"), "--gamma",
                                        "1e39", "--out", str(t / "out")], r"magnitude at most 10000"),
    ("a cache folder that is a file", lambda t: _suite_file(t) + ["--cache-dir", str(_data_file(t, "c", "x"))],
     r"--cache-dir \(or \$DLLM_BENCH_CACHE\) .* is a file, not a folder"),
]


@pytest.mark.parametrize("name,argv,message", MORE_BAD_INPUTS, ids=[r[0] for r in MORE_BAD_INPUTS])
def test_more_bad_inputs_exit_2_with_a_message(micro_pair, tmp_path, capsys, name, argv, message):
    import re

    MICRO[:] = [micro_pair]
    args = argv(tmp_path)
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse's own refusals (a flag's type)
        rc = exc.code
    assert rc == 2, name
    assert re.search(message, capsys.readouterr().err), (name, message)


def test_a_file_named_like_a_plugin_package_is_named(tmp_path):
    (tmp_path / "tasks.py").write_text("# the user's own script\n")
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", "--methods", "base", "--out", str(tmp_path / "o")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2 and "is shadowed by the module" in proc.stderr and "tasks.py" in proc.stderr, \
        proc.stderr[-2000:]


def test_weights_damaged_in_the_family_cache_are_caught(micro_plugins, micro_pair, cache_dir, tmp_path, capsys):
    copy = tmp_path / "cache"
    shutil.copytree(cache_dir, copy)
    family = next((copy / "families").glob("micro-*"))
    weights = family / "dllm" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8:] = bytes(8)  # same size and header, other bytes
    weights.write_bytes(bytes(data))
    rc = main(["--plugins", str(PLUGINS / "micro_suite.py"), "run", "--suite", "micro", "--methods", "base",
               "--seeds", "1", "--out", str(tmp_path / "res"), "--cache-dir", str(copy)])
    err = capsys.readouterr().err
    assert rc == 2 and "dllm/model.safetensors differs from what the build wrote" in err and "--rebuild" in err


def test_a_method_name_with_dollars_renders_in_the_report(micro_plugins, micro_pair, cache_dir, tmp_path):
    plugin = tmp_path / "dollars.py"
    plugin.write_text(
        "from benchmark.core.api import AlignedModel, Method\nfrom benchmark.core.registry import register_method\n"
        "@register_method('$x$')\nclass Dollars(Method):\n    name = '$x$'\n"
        "    def align(self, ctx):\n        return AlignedModel(ctx.pair.dllm_path, 'dllm')\n")
    assert main(["--plugins", str(PLUGINS / "micro_suite.py"), "--plugins", str(plugin), "run", "--suite", "micro",
                 "--methods", "$x$", "--tasks", "arith", "--seeds", "1", "--out", str(tmp_path / "res"),
                 "--cache-dir", str(cache_dir)]) == 0
    assert "$x$" in (tmp_path / "res" / "micro" / "report.html").read_text()


def test_a_checkpoint_family_retrained_in_place_gets_another_build_hash(micro_pair, tmp_path):
    from benchmark.core.api import FamilyContext, SamplerSettings
    from benchmark.models.checkpoints import CheckpointFamily, CheckpointSpec

    ar, dllm = tmp_path / "ar", tmp_path / "dllm"
    shutil.copytree(micro_pair.ar_path, ar)
    shutil.copytree(micro_pair.dllm_path, dllm)
    spec = CheckpointSpec(name="pair", ar=str(ar), dllm=str(dllm), ar_revision=None, dllm_revision=None,
                          mask_token_id=None, shift=None, block_attention=None, default_gamma=1.0,
                          sampler=SamplerSettings(), where="test")
    before = CheckpointFamily(spec).prepare(FamilyContext([], tmp_path)).build_hash
    weights = dllm / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # rewritten in place: same name and size, a new mtime
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    assert CheckpointFamily(spec).prepare(FamilyContext([], tmp_path)).build_hash != before


def test_an_unknown_lm_eval_task_is_named_before_the_model_loads(tmp_path, capsys):
    assert main(["eval", "--lm-eval", "gsm8kk", "--model-dir", str(tmp_path / "no-model"), "--kind", "ar",
                 "--include-path", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "unknown lm-eval task(s) gsm8kk" in capsys.readouterr().err
