"""Preference data formats on the real files in shared/data (Anthropic HH, LLaMA-Factory) and hand-made rows."""

import gzip
import json
from pathlib import Path

import pytest

from benchmark.core.data import DataError
from benchmark.core.preference_data import PREFERENCE_DATA, fit_to_budget, load_preference_data, select

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data is not next to the project")


@needs_shared
def test_anthropic_hh_splits_at_the_last_assistant_turn():
    skipped = {}
    pairs = load_preference_data("hh-rlhf", SHARED / "hh-rlhf" / "helpful-base_test.jsonl.gz", skipped=skipped)
    assert len(pairs) + sum(skipped.values()) == 2354 and set(skipped) <= {"identical answers"}
    assert any(p.rejected == "" for p in pairs), "an empty rejected answer is kept (the assistant said nothing)"
    harmless = load_preference_data("hh-rlhf", SHARED / "hh-rlhf" / "harmless-base_test.jsonl.gz")
    assert any(p.chosen == "" for p in harmless), "in harmless-base an empty answer is often the preferred one"
    # row 169 of helpful-base: the rejected answer runs on into a made-up "Assistant:" turn, kept inside it
    assert "\n\nAssistant:" in pairs[168].rejected and pairs[168].prompt.startswith("What are some famous world")
    first = pairs[0]
    assert first.messages[-1]["role"] == "user" and first.prompt.startswith("Do you know why turkeys")
    assert first.chosen.startswith("To be honest") and "Human:" not in first.chosen + first.rejected
    multi = next(p for p in pairs if len(p.messages) >= 3)
    assert [m["role"] for m in multi.messages] == ["user", "assistant"] * (len(multi.messages) // 2) + ["user"]


@needs_shared
def test_llamafactory_sharegpt_file():
    pairs = load_preference_data("llamafactory", SHARED / "llamafactory" / "dpo_en_demo.json")
    assert len(pairs) == 300 and all(p.messages[-1]["role"] == "user" for p in pairs)
    assert max(len(p.messages) for p in pairs) == 13  # multi-turn rows keep their history


def _write(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plain_strings_messages_alpaca_and_parquet(tmp_path):
    import pandas as pd

    rows = [{"prompt": "hi", "chosen": "hello", "rejected": "go away"},
            {"prompt": [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"}],
             "chosen": "hello", "rejected": "no"},
            {"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "good"}],
             "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "bad"}]}]
    pairs = load_preference_data("plain", _write(tmp_path, rows))
    assert [p.prompt for p in pairs] == ["hi", "hi", "q"] and pairs[1].messages[0]["role"] == "system"
    assert pairs[2].chosen == "good" and pairs[2].rejected == "bad"
    pd.DataFrame([rows[0]]).to_parquet(tmp_path / "d.parquet")
    assert load_preference_data("plain", tmp_path / "d.parquet")[0].as_pair().chosen == "hello"
    alpaca = [{"instruction": "sum", "input": "1 2", "chosen": "3", "rejected": "4"}]
    assert load_preference_data("llamafactory", _write(tmp_path, alpaca)).pop().prompt == "sum\n1 2"


@pytest.mark.parametrize("fmt,row,message", [
    ("plain", {"prompt": "q", "chosen": "a"}, r"d.jsonl:1: missing field 'rejected'"),
    ("plain", {"prompt": "q", "chosen": "a", "rejected": "a"}, r"no usable rows \(skipped: \{'identical answers': 1"),
    ("plain", {"prompt": "q", "chosen": [{"role": "bot", "content": "x"}], "rejected": "y"}, r"'chosen'\[0\]"),
    ("hh-rlhf", {"chosen": "no dialogue", "rejected": "x"}, r"d.jsonl:1: field 'chosen' has no"),
    ("hh-rlhf", {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"},
     "differ before their last Assistant turn"),
    ("llamafactory", {"conversations": [{"from": "robot", "value": "x"}], "chosen": "a", "rejected": "b"},
     r"'conversations'\[0\]"),
    ("llamafactory", {"instruction": "x", "chosen": "", "rejected": "b"}, "field 'chosen' is empty"),
])
def test_malformed_rows_name_file_line_and_field(tmp_path, fmt, row, message):
    with pytest.raises(DataError, match=message):
        load_preference_data(fmt, _write(tmp_path, [row]))


def test_gzip_and_unknown_format(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n'))
    assert load_preference_data("plain", path)[0].chosen == "a"
    with pytest.raises(KeyError, match="unknown preference data format 'hh'"):
        PREFERENCE_DATA.get("hh")


def test_selection_is_deterministic_and_disjoint(tmp_path):
    rows = [{"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(50)]
    pairs = load_preference_data("plain", _write(tmp_path, rows))
    train, heldout, evaluation = select(pairs, 30, 10, seed=1, n_eval=6)
    assert (train, heldout, evaluation) == select(pairs, 30, 10, seed=1, n_eval=6)
    assert select(pairs, 30, 10, seed=2, n_eval=6)[0] != train
    assert len(evaluation) == 6 and not {p.prompt for p in train} & {p.prompt for p in heldout}
    assert not {p.prompt for p in evaluation} & ({p.prompt for p in heldout} | {p.prompt for p in train})
    # The held-out and evaluation pairs are the same for every seed, and a smaller held-out set is a prefix of
    # a larger one (a family adapted on the data leaves the larger one out); the evaluation pairs follow them.
    assert select(pairs, 30, 10, seed=2, n_eval=6)[1:] == (heldout, evaluation)
    assert select(pairs, 30, 5, seed=3)[1] == heldout[:5] and select(pairs, 20, 16, seed=3)[1] == heldout + evaluation
    assert select(pairs, 30, 10, seed=1)[0] != train, "without evaluation pairs the training draw is another"
    with pytest.raises(DataError, match="30 training \\+ 10 held-out \\+ 11 evaluation pairs, but the data has 50"):
        select(pairs, 30, 10, seed=0, n_eval=11)


def test_budget_rule_truncates_and_counts(micro_pair, tmp_path):
    from benchmark.models.loading import load_tokenizer

    tok = load_tokenizer(micro_pair.dllm_path)
    rows = [{"prompt": "what is 1 plus 2 ?", "chosen": "3 3 3 3 3 3", "rejected": "3 3 3 3 3 4"},
            {"prompt": "what is 1 plus 2 ?", "chosen": "3", "rejected": "4"},
            {"prompt": [{"role": "user", "content": "what is 1 plus 1 ?"}, {"role": "assistant", "content": "2"},
                        {"role": "user", "content": "what is 2 plus 2 ?"}], "chosen": "4", "rejected": "5"}]
    pairs = load_preference_data("plain", _write(tmp_path, rows))
    kept, counts = fit_to_budget(pairs, tok, max_prompt_tokens=5, max_response_tokens=3)
    assert counts.dropped_identical == 1, "'3 3 3' == '3 3 3' after cutting at 3 tokens: no preference left"
    assert counts.response_truncated == 1 and counts.prompt_truncated == 3 and counts.kept == 2
    assert kept[1].messages == ({"role": "user", "content": "what is 2 plus 2 ?"},) or len(kept[1].messages) == 1
