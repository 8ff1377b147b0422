"""A suite is training sets x eval tasks: which records a suite with two training sets writes, one path for
synthetic and file data, and malformed [train.X] tables refused (file, table, key) before anything runs."""

import json
from pathlib import Path

import pytest

from tests.test_preference_suite import _eval_files


def _pairs(folder: Path, name: str, offset: int) -> Path:
    rows = [{"prompt": f"what is {a} plus {offset} ?", "chosen": f"it is {a + offset}",
             "rejected": f"it is {a + offset + 1}"} for a in range(24)]
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _two_set_suite(folder: Path, train_a: str | None = None, train_b: str | None = None, extra: str = "") -> Path:
    tqa, gsm = _eval_files(folder)
    _pairs(folder, "a.jsonl", 1), _pairs(folder, "b.jsonl", 2)
    a = train_a if train_a is not None else 'format = "plain"\npath = "a.jsonl"\nscores = ["truthfulqa-mc2", "arith"]'
    b = train_b if train_b is not None else 'format = "plain"\npath = "b.jsonl"\nscores = ["gsm8k", "arith"]'
    path = folder / "two.toml"
    path.write_text(f"""
[suite]
name = "two"
families = ["micro"]
tasks = ["truthfulqa-mc2", "gsm8k", "arith"]
methods = ["base", "elbo-dpo"]
n_eval = 6

[budget]
steps = 2
batch_size = 4

[train.a]
{a}
n_heldout = 4
max_prompt_tokens = 48
max_response_tokens = 8

[train.b]
{b}
n_heldout = 4
max_prompt_tokens = 48
max_response_tokens = 8

[eval.truthfulqa-mc2]
data = "{tqa.name}"

[eval.gsm8k]
data = "{gsm.name}"
limit = 2
{extra}""")
    return path


def test_two_training_sets_each_scored_by_its_task_and_one_task_scored_by_both(micro_pair, cache_dir, tmp_path):
    from benchmark.harness.runner import RunConfig, run

    suite = _two_set_suite(tmp_path)
    board = run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    cells = tmp_path / "out" / "two" / "cells" / "micro"
    stored = sorted(str(p.relative_to(cells)) for p in cells.glob("*/*/seed0.json"))
    # arith is scored by both sets: one column per set; each other task by its own set only
    assert stored == [f"{m}/{t}/seed0.json" for m in ("base", "elbo-dpo")
                      for t in ("arith@a", "arith@b", "gsm8k", "truthfulqa-mc2")]
    for task, train, data in (("truthfulqa-mc2", "a", "a.jsonl"), ("arith@a", "a", "a.jsonl"),
                              ("gsm8k", "b", "b.jsonl"), ("arith@b", "b", "b.jsonl")):
        rec = json.loads((cells / "elbo-dpo" / task / "seed0.json").read_text())
        assert rec["info"]["train"] == train and rec["config"]["unit"]["train_source"]["file"] == data, task
        assert rec["info"]["training_data"]["train"]["kept"] == 8, task
    a, b = (json.loads((cells / "elbo-dpo" / t / "seed0.json").read_text()) for t in ("arith@a", "arith@b"))
    assert a["info"]["train_losses"] != b["info"]["train_losses"], "two sets, two trained models"
    assert a["config"]["task"] == b["config"]["task"], "the same eval task and items, scored twice"
    assert {"arith@a", "arith@b", "gsm8k", "truthfulqa-mc2", "average"} <= set(board.columns)
    assert board.loc[board["method"] == "elbo-dpo", "arith@a_win"].notna().all(), "win rate against base's answers"
    # each trained model is dropped once all of its records are stored; a rerun redoes nothing
    assert not list((tmp_path / "out" / "two" / "artifacts").glob("aligned-*"))
    before = {p: p.stat().st_mtime_ns for p in cells.glob("**/*.json")}
    run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    assert {p: p.stat().st_mtime_ns for p in cells.glob("**/*.json")} == before
    # --tasks gsm8k selects set b alone
    from benchmark.harness.grid import plan_run

    plan = plan_run(RunConfig(suite=str(suite), seeds=1, tasks=["gsm8k"], out=tmp_path / "out", cache_dir=cache_dir))
    assert plan.train_names == ["b"] and {k.task for k in plan.cells} == {"gsm8k"}


def test_a_synthetic_task_is_a_training_set_and_an_eval_task_of_the_same_kind(tmp_path):
    from benchmark.harness.suites import load_suite_file

    path = tmp_path / "s.toml"
    path.write_text('[suite]\nname = "s"\nfamilies = ["tiny"]\ntasks = ["arith", "facts"]\n\n'
                    '[train.mixed]\nformat = "synthetic"\ntask = "facts"\nscores = ["arith", "facts"]\n')
    suite = load_suite_file(path)
    assert [(t.name, t.task, t.scores) for t in suite.train] == [("mixed", "facts", ("arith", "facts"))]
    path.write_text('[suite]\nname = "s"\nfamilies = ["tiny"]\ntasks = ["arith", "facts"]\n')
    assert [(t.name, t.scores) for t in load_suite_file(path).train] == [("arith", ("arith",)), ("facts", ("facts",))]


BAD = [
    ('scores = ["truthfulqa-mc2", "arith"]', 'scores = ["truthfulqa-mc2", "mmlu"]',
     r"two.toml: \[train.a\] key 'scores'\[1\]: 'mmlu' is not one of \[suite\] tasks"),
    ('path = "b.jsonl"\nscores = ["gsm8k", "arith"]', 'path = "b.jsonl"\nscores = ["arith"]',
     r"two.toml: \[suite\] key 'tasks': gsm8k scored by no training set"),
    ('path = "a.jsonl"', 'path = "missing.jsonl"', r"two.toml: \[train.a\] path 'missing.jsonl': no such file"),
    ('scores = ["truthfulqa-mc2", "arith"]', "", r"two.toml: \[train.a\] is missing key 'scores'"),
    ('scores = ["truthfulqa-mc2", "arith"]', "scores = []", r"two.toml: \[train.a\] key 'scores' is empty"),
    ('format = "plain"\npath = "a.jsonl"', 'format = "plian"\npath = "a.jsonl"',
     r"two.toml: \[train.a\] key 'format': unknown preference data format 'plian' \(did you mean 'plain'\?\)"),
    ('format = "plain"\npath = "a.jsonl"', 'format = "synthetic"',
     r"two.toml: \[train.a\] key 'format' is 'synthetic': add key 'task'"),
    ('format = "plain"\npath = "a.jsonl"', 'format = "plain"', r"two.toml: \[train.a\] needs 'path'.*'hub'"),
    ('scores = ["truthfulqa-mc2", "arith"]', 'scores = ["truthfulqa-mc2", "arith"]\nlimit = 3',
     r"two.toml: \[train.a\]: unknown key 'limit'"),
]


@pytest.mark.parametrize("old,new,message", BAD)
def test_malformed_train_tables_name_file_table_and_key_before_anything_runs(tmp_path, capsys, old, new, message):
    from benchmark.cli import main

    path = _two_set_suite(tmp_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "out")]) == 2
    import re

    assert re.search(message, capsys.readouterr().err), message
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.json")), "nothing ran"


def test_preference_and_train_tables_do_not_mix(tmp_path, capsys):
    from benchmark.cli import main

    path = _two_set_suite(tmp_path, extra='\n[preference]\nformat = "plain"\npath = "a.jsonl"\n')
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "use either one [preference] table" in capsys.readouterr().err


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "shared" / "data" / "armap-eval").is_dir(),
                    reason="shared/data is not next to the project")
def test_deleted_base_answers_are_made_again_by_a_rerun(micro_pair, cache_dir, tmp_path):
    """The base row's answers are the pairwise tasks' reference: deleted, the rerun remakes them (it used to
    stop with the same error it told the user to rerun past)."""
    from benchmark.harness.runner import RunConfig, run
    from tests.test_preference_suite import DATA, _plain_pairs

    (tmp_path / "a.jsonl").write_text("".join((DATA / "armap-eval" / "alpacaeval.jsonl").read_text()
                                              .splitlines(keepends=True)[:3]))
    suite = tmp_path / "pw.toml"
    suite.write_text(f"""
[suite]
name = "pw"
families = ["micro"]
tasks = ["alpacaeval"]
methods = ["base", "elbo-dpo"]

[budget]
steps = 1
batch_size = 4

[preference]
format = "plain"
path = "{_plain_pairs(tmp_path)}"
n_heldout = 4
max_prompt_tokens = 32
max_response_tokens = 8

[eval.alpacaeval]
data = "a.jsonl"
options = {{ judge = "rule", allow_empty = true, max_new_tokens = 8 }}
""")
    cfg = RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir)
    run(cfg)
    answers = list((tmp_path / "out" / "pw" / "artifacts" / "base-answers").glob("*.jsonl"))
    assert len(answers) == 1
    other = tmp_path / "out" / "pw" / "cells" / "micro" / "elbo-dpo" / "alpacaeval" / "seed0.json"
    stamp = other.stat().st_mtime_ns
    answers[0].unlink()
    run(cfg)
    assert answers[0].is_file() and other.stat().st_mtime_ns == stamp, "base remade, the other row kept"


def test_a_preference_answer_of_millions_of_characters_is_cut_not_tokenized_whole(micro_pair):
    import time

    from benchmark.core.preference_data import ChatPair, fit_to_budget
    from benchmark.models.loading import load_tokenizer

    tok = load_tokenizer(micro_pair.dllm_path)
    huge = "it is 3 " * 1_000_000  # 8M characters
    pairs = [ChatPair(({"role": "user", "content": "what is 2 plus 1 ?" * 200_000},), huge, "it is 4")]
    start = time.perf_counter()
    kept, counts = fit_to_budget(pairs, tok, 16, 8)
    assert time.perf_counter() - start < 10, "cut before tokenizing"
    assert counts.prompt_truncated == 1 and counts.response_truncated == 1
    assert len(tok(kept[0].chosen, add_special_tokens=False)["input_ids"]) <= 8
