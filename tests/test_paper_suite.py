"""The paper suite's dry run: everything checkable offline, one message listing what is missing."""

import shutil
from pathlib import Path

import pytest

from benchmark.cli import main

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "armap-eval"


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not next to the project")
def test_dry_run_loads_tasks_and_lists_everything_missing(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["run", "--suite", "paper", "--dry-run", "--data-dir", str(DATA)]) == 2
    out, err = capsys.readouterr()
    assert "task alpacaeval: 805 items loaded" in out and "base row's answers of the same run" in out
    assert "task truthfulqa-mc2: 817 items loaded" in out
    assert "H100-hours" in out and "90 (family, method, training set, seed) units" in out
    for needle in ("Dream-org/Dream-v0-Instruct-7B", "JetLM/SDAR-8B-Chat", "$OPENAI_API_KEY", "no CUDA GPU",
                   "gsm8k.jsonl (not there) or the hub dataset openai/gsm8k in the local cache",
                   "[train.helpful] path 'dpo_helpful.json': no such file", "[train.math] path 'dpo_math.json'",
                   "[train.truthful] path 'dpo_truthful.json'"):
        assert needle in err
    assert err.count("\n  - ") == 12, err  # 4 weights, 3 training files, 3 hub-only tasks, judge key, GPU


def test_dry_run_shows_each_training_set_and_what_it_scores(tmp_path, capsys):
    """AR-MAP's protocol: three aspects, each trained on its own LLaMA-Factory file, scored by its tasks."""
    row = {"instruction": "hi", "input": "", "chosen": "hello", "rejected": "go away"}
    for aspect in ("helpful", "math", "truthful"):
        (tmp_path / f"dpo_{aspect}.json").write_text(__import__("json").dumps([row] * 3))
    assert main(["run", "--suite", "paper", "--dry-run", "--data-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert f"training set helpful: {tmp_path / 'dpo_helpful.json'} (llamafactory), 512 pairs held out, 32000 " \
           "trained on -> scored by alpacaeval, arena-hard, ifeval" in out
    assert "training set math: " in out and "-> scored by gsm8k, math500" in out
    assert "training set truthful: " in out and "-> scored by truthfulqa-mc2" in out
    assert "dpo_" not in err


def test_dry_run_names_broken_and_missing_files(tmp_path, capsys):
    if DATA.is_dir():
        shutil.copy(DATA / "alpacaeval.jsonl", tmp_path / "alpacaeval.jsonl")
    (tmp_path / "TruthfulQA.csv").write_text("Question,Best Answer\nq,a\n")
    (tmp_path / "gsm8k.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n')
    (tmp_path / "ifeval.jsonl").write_text('{"prompt": "hi", "instruction_id_list": [], "kwargs": []}\n')
    assert main(["run", "--suite", "paper", "--dry-run", "--data-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert f"task gsm8k: 1 items loaded from {tmp_path / 'gsm8k.jsonl'} (samples=4)" in out
    assert "ifeval.jsonl:1: field 'instruction_id_list' must be a non-empty list" in err
    assert f"{tmp_path / 'arena-hard-base.jsonl'} (not there)" in err
    assert "TruthfulQA.csv:1: missing column(s)" in err


def test_dry_run_is_only_for_the_paper_suite(capsys):
    assert main(["run", "--dry-run"]) == 2
    assert "only meaningful for --suite paper" in capsys.readouterr().err
