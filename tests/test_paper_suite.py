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
    assert "task alpacaeval: pairwise, 805 prompts loaded" in out
    assert "task truthfulqa-mc2: mc, 817 prompts loaded" in out
    assert "H100-hours" in out
    for needle in ("Dream-org/Dream-v0-Instruct-7B", "JetLM/SDAR-8B-Chat", "$OPENAI_API_KEY", "no CUDA GPU"):
        assert needle in err
    assert err.count("\n  - ") == 6, err


def test_dry_run_names_broken_and_missing_files(tmp_path, capsys):
    if DATA.is_dir():
        shutil.copy(DATA / "alpacaeval.jsonl", tmp_path / "alpacaeval.jsonl")
    (tmp_path / "TruthfulQA.csv").write_text("Question,Best Answer\nq,a\n")
    assert main(["run", "--suite", "paper", "--dry-run", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'arena-hard-base.jsonl'} does not exist" in err
    assert "TruthfulQA.csv:1: missing column(s)" in err


def test_dry_run_is_only_for_the_paper_suite(capsys):
    assert main(["run", "--dry-run"]) == 2
    assert "only meaningful for --suite paper" in capsys.readouterr().err
