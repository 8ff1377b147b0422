"""The benchmark adapters in tasks/ (AlpacaEval, Arena-Hard, TruthfulQA MC2, GSM8K, MATH500, IFEval):
loading from files and from hub-format datasets, validation, scoring through the `eval` command."""

import json
import math
import random
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.data import DataError
from benchmark.core.registry import EVAL_TASKS
from benchmark.eval.eval_task import EvalRun, HubSource

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "armap-eval"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not next to the project")


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_every_paper_task_is_registered():
    assert {"alpacaeval", "arena-hard", "truthfulqa-mc2", "gsm8k", "math500", "ifeval"} <= set(EVAL_TASKS.names())


# ------------------------------------------------------------------ hub-format datasets, loaded by datasets
HUB_ROWS = {
    "gsm8k": [{"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"}],
    "math500": [{"problem": "Compute $1/2 + 1/2$.", "solution": "...", "answer": "1", "subject": "Algebra",
                 "level": 1, "unique_id": "x"}],
    "ifeval": [{"key": 7, "prompt": "Write one word.", "instruction_id_list": ["punctuation:no_comma"],
                "kwargs": [{"num_words": None, "relation": None}]}],
    "truthfulqa-mc2": [{"question": "Is the sky green?", "mc1_targets": {"choices": ["No", "Yes"], "labels": [1, 0]},
                        "mc2_targets": {"choices": ["No", "Not usually", "Yes"], "labels": [1, 1, 0]}}],
    "alpacaeval": [{"instruction": "Say hi.", "output": "Hi!", "generator": "gpt4", "dataset": "x"}],
    "arena-hard": [{"question_id": "q1", "category": "c", "turns": [{"content": "Explain tides."}]}],
}


@pytest.mark.parametrize("name", sorted(HUB_ROWS))
def test_hub_format_dataset_loads_through_datasets(name, tmp_path):
    """The hub code path (datasets.load_dataset) on a local dataset folder in the hub's schema."""
    folder = tmp_path / name
    split = EVAL_TASKS.get(name).hub.split
    split = split if split in ("train", "test", "validation") else "test"  # names datasets infers from files
    write_jsonl(folder / f"{split}.jsonl", HUB_ROWS[name] * 3)
    task = EVAL_TASKS.get(name)()
    items = task.load(EvalRun(hub=HubSource(str(folder), None, split), limit=2))
    assert len(items) == 2
    if name == "ifeval":
        assert items[0]["kwargs"] == [{}] and items[0]["key"] == 7  # the hub's None-filled kwargs are dropped
    if name == "truthfulqa-mc2":
        assert items[0].true == ("No", "Not usually") and items[0].false == ("Yes",)
    if name == "arena-hard":
        assert items[0] == "Explain tides."
    if name == "gsm8k":
        assert items[0] == ("What is 2 + 3?", "5")


def test_malformed_hub_row_names_dataset_row_and_field(tmp_path):
    folder = tmp_path / "gsm"
    write_jsonl(folder / "test.jsonl", [{"question": "ok?", "answer": "#### 1"}, {"question": "no", "answer": "1"}])
    with pytest.raises(DataError, match=r"gsm\[test\]:1: field 'answer' of a GSM8K row must end in '####"):
        EVAL_TASKS.get("gsm8k")().load(EvalRun(hub=HubSource(str(folder), None, "test")))


def test_unreachable_hub_says_how_to_work_offline():
    with pytest.raises(DataError, match="Offline\\? Pass --data FILE"):
        EVAL_TASKS.get("math500")().load(EvalRun(hub=HubSource("no-such-org/no-such-dataset", None, "test")))


@pytest.mark.parametrize(("name", "row", "message"), [
    ("gsm8k", {"question": "q", "answer": 5}, "must end in '#### <number>'"),
    ("math500", {"problem": "", "answer": "1"}, "field 'problem' is empty"),
    ("ifeval", {"prompt": "p", "instruction_id_list": ["a"], "kwargs": []}, "one per instruction"),
    ("alpacaeval", {"output": "x"}, "missing field 'instruction'"),
    ("arena-hard", {"instruction": 3}, "field 'instruction' must be a string"),
])
def test_malformed_local_rows_name_file_line_and_field(name, row, message, tmp_path):
    valid = {"instruction": "Explain tides."} if name == "arena-hard" else HUB_ROWS[name][0]  # local format
    path = write_jsonl(tmp_path / "data.jsonl", [valid, row])
    with pytest.raises(DataError, match=f"data.jsonl:2: .*{message.replace('(', '.').replace(')', '.')}"):
        EVAL_TASKS.get(name)().load(EvalRun(data=path))


def test_unknown_option_is_refused_with_suggestions(tmp_path, capsys):
    rc = main(["eval", "--task", "alpacaeval", "--data", str(tmp_path / "x.jsonl"), "--set", "protocl=armap"])
    assert rc == 2
    assert "did you mean protocol" in capsys.readouterr().err


# ------------------------------------------------------------------ pairwise win rate on the real files
@needs_data
@pytest.mark.parametrize("protocol", ["fair", "armap"])
def test_alpacaeval_on_given_answers_matches_the_winrate_library(protocol, tmp_path):
    from benchmark.eval.judges import make_judge
    from benchmark.eval.loaders import load_answers, load_prompts, pair_answers
    from benchmark.eval.winrate import win_rate

    args = ["eval", "--task", "alpacaeval", "--data", str(DATA / "alpacaeval.jsonl"), "--limit", "60",
            "--set", f"base={DATA / 'alpaca-qwen2.5-base.jsonl'}",
            "--set", f"answers={DATA / 'alpaca-dream-base.jsonl'}", "--set", f"protocol={protocol}",
            "--set", "allow_empty=true", "--method", "dream-base", "--family", "paper-files", "--out", str(tmp_path)]
    assert main(args) == 0
    cell = "alpacaeval[limit=60]" if protocol == "fair" else "alpacaeval[protocol=armap,limit=60]"
    rec = json.loads((tmp_path / "lm-eval/cells/paper-files/dream-base" / cell / "seed0.json").read_text())
    prompts = load_prompts(DATA / "alpacaeval.jsonl")[:60]
    new = {a.prompt.strip(): a for a in load_answers(DATA / "alpaca-dream-base.jsonl", True)}
    triples = pair_answers([new[p.strip()] for p in prompts], load_answers(DATA / "alpaca-qwen2.5-base.jsonl", True))
    expected = win_rate(triples, make_judge("rule"), protocol)
    assert rec["metrics"][f"win_rate_{protocol}"]["value"] == pytest.approx(expected.value)
    assert rec["n_eval"] == 60 and 0 <= rec["metrics"]["length_adjusted_win_rate"]["value"] <= 100
    assert rec["config"]["model_dir"] is None  # judged from files: no model was loaded


@needs_data
def test_empty_base_answers_are_refused_unless_allowed(tmp_path, capsys):
    args = ["eval", "--task", "alpacaeval", "--data", str(DATA / "alpacaeval.jsonl"),
            "--set", f"base={DATA / 'alpaca-dream-base.jsonl'}", "--set", f"answers={DATA / 'alpaca-dream-base.jsonl'}",
            "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "alpaca-dream-base.jsonl:" in err and "is empty" in err and "allow_empty=true" in err


def test_length_adjusted_win_rate_recovers_the_equal_length_preference():
    """Synthetic judge: P(win) = sigmoid(a + b * tanh(length gap / sd)); LC must find sigmoid(a), raw cannot."""
    from benchmark.eval.winrate import length_adjusted

    rng = random.Random(1)
    new = [rng.randint(10, 400) for _ in range(800)]
    base = [rng.randint(10, 200) for _ in range(800)]
    gaps = [n - b for n, b in zip(new, base)]
    sd = (sum(g * g for g in gaps) / len(gaps) - (sum(gaps) / len(gaps)) ** 2) ** 0.5
    a, b = 0.5, 2.0
    outcomes = [float(rng.random() < 1 / (1 + math.exp(-(a + b * math.tanh(g / sd))))) for g in gaps]
    lc, se = length_adjusted(outcomes, new, base)
    truth = 100 / (1 + math.exp(-a))
    raw = 100 * sum(outcomes) / len(outcomes)
    assert abs(lc - truth) < 3 * se and se < 5
    assert raw - truth > 8  # the raw rate is inflated by length; LC removes it


# ------------------------------------------------------------------ generation through a model
def test_pairwise_task_generates_answers_with_the_model(micro_pair, tmp_path):
    prompts = [f"what is {a} plus 1 ?" for a in range(4)]
    data = write_jsonl(tmp_path / "prompts.jsonl", [{"instruction": p} for p in prompts])
    base = write_jsonl(tmp_path / "base.jsonl", [{"raw_prompt": p, "responses": ["0"]} for p in prompts])
    assert main(["eval", "--task", "arena-hard", "--model-dir", str(micro_pair.dllm_path), "--data", str(data),
                 "--set", f"base={base}", "--set", "max_new_tokens=8", "--family", "micro", "--method", "base",
                 "--out", str(tmp_path / "res")]) == 0
    cell = tmp_path / "res/lm-eval/cells/micro/base/arena-hard"
    rec = json.loads((cell / "seed0.json").read_text())
    samples = [json.loads(line) for line in (cell / "seed0.samples.jsonl").read_text().splitlines()]
    assert [s["prompt"] for s in samples] == prompts and all(isinstance(s["response"], str) for s in samples)
    assert rec["cost"]["eval"]["forward_passes"] > 0
    assert 0 <= rec["metrics"]["win_rate_fair"]["value"] <= 100


def test_ifeval_task_scores_generated_answers(micro_pair, tmp_path):
    rows = [{"key": i, "prompt": f"what is {i} plus 1 ?", "instruction_id_list": ["keywords:forbidden_words"],
             "kwargs": [{"forbidden_words": ["zebra"]}]} for i in range(3)]
    data = write_jsonl(tmp_path / "ifeval.jsonl", rows)
    assert main(["eval", "--task", "ifeval", "--model-dir", str(micro_pair.ar_path), "--kind", "ar",
                 "--data", str(data), "--set", "max_new_tokens=6", "--family", "micro", "--method", "ar-base",
                 "--out", str(tmp_path / "res")]) == 0
    rec = json.loads((tmp_path / "res/lm-eval/cells/micro/ar-base/ifeval/seed0.json").read_text())
    assert set(rec["metrics"]) == {"prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
                                   "inst_level_loose_acc"}
    # "zebra" is not in the tiny vocabulary: an answer follows the instruction exactly when it is not empty
    # (lm-eval counts an empty answer as not following), whatever the 30-step micro model says
    samples = [json.loads(line) for line in
               (tmp_path / "res/lm-eval/cells/micro/ar-base/ifeval/seed0.samples.jsonl").read_text().splitlines()]
    expected = 100 * sum(bool(s["response"].strip()) for s in samples) / len(samples)
    assert rec["metrics"]["prompt_level_strict_acc"]["value"] == expected
    assert all(s["prompt_level_strict_acc"] == bool(s["response"].strip()) for s in samples)


def test_csv_files_load_and_broken_quoting_names_the_line(tmp_path):
    good = tmp_path / "gsm.csv"
    good.write_text('question,answer,extra\n"What is 1, plus 1?","1 + 1 = 2\n#### 2",x\n')
    assert EVAL_TASKS.get("gsm8k")().load(EvalRun(data=good)) == [("What is 1, plus 1?", "2")]
    broken = tmp_path / "alpaca.csv"
    broken.write_text('instruction,output\n"ok",fine\n"unterminated,quote\n')
    with pytest.raises(DataError, match=r"alpaca.csv:\d+: (malformed CSV|wrong number of fields)"):
        EVAL_TASKS.get("alpacaeval")().load(EvalRun(data=broken))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"instruction\nok\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"latin.csv:3: not valid UTF-8"):
        EVAL_TASKS.get("alpacaeval")().load(EvalRun(data=latin))


def test_missing_model_is_reported_before_any_data_is_loaded(tmp_path, capsys):
    # no --data: loading would try the hub; the missing model must be reported first
    assert main(["eval", "--task", "gsm8k", "--out", str(tmp_path)]) == 2
    assert "needs --model-dir" in capsys.readouterr().err
    assert main(["eval", "--task", "gsm8k", "--model-dir", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_eval_task_from_a_plugin_file(tmp_path):
    plugin = Path(__file__).parent / "plugins" / "word_count_task.py"
    data = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "one two"}, {"instruction": "a b c d e f g"}])
    assert main(["--plugins", str(plugin), "eval", "--task", "short-prompts", "--data", str(data),
                 "--set", "max_words=3", "--method", "base", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "lm-eval/cells/custom/base/short-prompts/seed0.json").read_text())
    assert rec["metrics"]["short"]["value"] == 50.0
    board = (tmp_path / "lm-eval/leaderboard.md").read_text()
    assert "short-prompts" in board


def test_malformed_model_args_are_refused_before_loading(tmp_path, capsys):
    assert main(["eval", "--task", "gsm8k", "--model-dir", str(tmp_path), "--model-args", "steps=4,block",
                 "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert "'block' has no '='" in capsys.readouterr().err


def test_show_options_lists_every_option_with_its_default(capsys):
    assert main(["eval", "--task", "gsm8k", "--show-options"]) == 0
    out = capsys.readouterr().out
    assert "openai/gsm8k" in out
    for name in EVAL_TASKS.get("gsm8k").options:
        assert f"  {name} " in out


def test_eval_resumes_a_stored_cell_and_reruns_only_with_force_when_the_data_change(tmp_path, capsys):
    plugin = Path(__file__).parent / "plugins" / "word_count_task.py"
    data = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "one two"}, {"instruction": "a b c d e f g"}])
    args = ["--plugins", str(plugin), "eval", "--task", "short-prompts", "--data", str(data), "--out", str(tmp_path),
            "--method", "base"]
    record = tmp_path / "lm-eval/cells/custom/base/short-prompts/seed0.json"
    assert main(args) == 0
    first = json.loads(record.read_text())["created"]
    assert main(args) == 0
    assert json.loads(record.read_text())["created"] == first  # same config: not recomputed
    write_jsonl(data, [{"instruction": "one"}])  # same path, new content: not replaced without --force
    assert main(args) == 2 and "data_sha256" in capsys.readouterr().err
    assert json.loads(record.read_text())["created"] == first
    assert main(args + ["--force"]) == 0
    changed = json.loads(record.read_text())
    assert changed["created"] != first and changed["metrics"]["short"]["value"] == 100.0
    assert main(args + ["--force"]) == 0
    assert json.loads(record.read_text())["created"] != changed["created"]


def test_pairwise_options_are_checked_before_the_model_is_loaded(tmp_path, capsys):
    data = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "hi"}])
    base = write_jsonl(tmp_path / "base.jsonl", [{"raw_prompt": "hi", "responses": 3}])
    # --model-dir is not even a model folder: the option errors must come first
    common = ["eval", "--task", "alpacaeval", "--model-dir", str(tmp_path), "--data", str(data)]
    assert main(common) == 2
    assert "needs the base model's answers" in capsys.readouterr().err
    assert main(common + ["--set", f"base={base}", "--set", "judge=gpt"]) == 2
    assert "unknown judge 'gpt'" in capsys.readouterr().err
    assert main(common + ["--set", f"base={base}"]) == 2
    assert "base.jsonl:1: field 'responses' must be a list or a string" in capsys.readouterr().err


def _answers_file(path, prompts, text):
    path.write_text("".join(json.dumps({"raw_prompt": p, "responses": [f"{text} {i}"]}) + "\n"
                            for i, p in enumerate(prompts)))
    return path


def test_two_protocols_are_two_cells_and_a_different_file_is_not_replaced_silently(tmp_path, capsys):
    """An armap run into a folder holding the fair cell stores beside it; another answers file under the
    same name is refused unless --force; with no --method the row is named after the answers file."""
    prompts = [f"question {i}" for i in range(4)]
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"instruction": p}) + "\n" for p in prompts))
    base = _answers_file(tmp_path / "base.jsonl", prompts, "short")
    new = _answers_file(tmp_path / "merged-gamma6.jsonl", prompts, "a much longer answer with many words")
    common = ["eval", "--task", "alpacaeval", "--data", str(data), "--set", f"base={base}", "--out", str(tmp_path)]
    assert main([*common, "--set", f"answers={new}"]) == 0
    assert main([*common, "--set", f"answers={new}", "--set", "protocol=armap"]) == 0
    cells = sorted(p.name for p in (tmp_path / "lm-eval" / "cells" / "custom" / "merged-gamma6").iterdir())
    assert cells == ["alpacaeval", "alpacaeval[protocol=armap]"]
    other = _answers_file(tmp_path / "other" / "merged-gamma6.jsonl", prompts, "x") if (
        tmp_path / "other").mkdir() is None else None
    capsys.readouterr()
    assert main([*common, "--set", f"answers={other}"]) == 2
    err = capsys.readouterr().err
    assert "measured with other settings" in err and "option_files_sha256" in err and "--force" in err
    assert main([*common, "--set", f"answers={other}", "--force"]) == 0
