"""Loaders for the paper's evaluation files and the win-rate protocols, on the real files in shared/data."""

import json
from pathlib import Path

import pytest

from benchmark.eval.judges import Judge, RuleJudge
from benchmark.eval.loaders import (
    DataError,
    load_answers,
    load_prompts,
    load_truthfulqa_csv,
    pair_answers,
    strip_end_tokens,
)
from benchmark.eval.winrate import item_outcome, win_rate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "armap-eval"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not next to the project")


@needs_data
def test_real_files_load():
    assert len(load_prompts(DATA / "arena-hard-base.jsonl")) == 500
    assert len(load_prompts(DATA / "alpacaeval.jsonl")) == 805
    answers = load_answers(DATA / "alpaca-dream-base.jsonl", allow_empty=True)
    assert len(answers) == 805 and answers[0].prompt.startswith("What are the names of some famous actors")
    assert len(load_answers(DATA / "alpacaeval.jsonl")) == 805  # instruction/output format
    tqa = load_truthfulqa_csv(DATA / "TruthfulQA.csv")
    assert len(tqa) == 817
    assert tqa[0].question == "What happens to you if you eat watermelon seeds?"  # the byte-order mark is gone
    assert "You grow watermelons in your stomach" in tqa[0].false and tqa[0].best in tqa[0].true


@needs_data
def test_real_files_have_empty_answers_which_strict_loading_refuses():
    with pytest.raises(DataError, match=r"alpaca-dream-base.jsonl:\d+: field 'responses' is empty"):
        load_answers(DATA / "alpaca-dream-base.jsonl")


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_answer_formats_end_tokens_and_extra_fields(tmp_path):
    path = write(tmp_path, "a.jsonl", [
        b'{"raw_prompt": "p1", "responses": ["one<|im_end|>"], "extra": 3}',
        b'{"raw_prompt": "p2", "responses": "two <|endoftext|><|im_end|>\\n"}',
        b'{"instruction": "p3", "output": "three", "generator": "x"}',
    ])
    assert [(a.prompt, a.response) for a in load_answers(path)] == [("p1", "one"), ("p2", "two"), ("p3", "three")]
    assert strip_end_tokens("keep <|im_end|> inside<|im_end|>") == "keep <|im_end|> inside"


@pytest.mark.parametrize("line, message", [
    (b'{"responses": ["x"]}', "missing field 'raw_prompt'"),
    (b'{"raw_prompt": "p"}', "missing field 'responses'"),
    (b'{"raw_prompt": "p", "responses": 3}', "field 'responses' must be a list or a string"),
    (b'{"raw_prompt": "p", "responses": []}', "must be a non-empty list of strings"),
    (b'{"raw_prompt": "p", "responses": ["<|im_end|>"]}', "field 'responses' is empty"),
    (b'{"raw_prompt": 7, "responses": ["x"]}', "field 'raw_prompt' must be a string"),
    (b'{"raw_prompt": "caf\xe9", "responses": ["x"]}', "not valid UTF-8"),
    (b'{"raw_prompt": "p", "responses": ["x"]', "invalid JSON"),
])
def test_malformed_answer_rows(tmp_path, line, message):
    path = write(tmp_path, "bad.jsonl", [b'{"raw_prompt": "ok", "responses": ["fine"]}', line])
    with pytest.raises(DataError) as err:
        load_answers(path)
    assert f"{path}:2" in str(err.value) and message in str(err.value)


CSV_HEADER = b"Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"


@pytest.mark.parametrize("body, message", [
    (b'A,B,"Q?",best,"x; y",z,src\nA,B,"Q2?,best,x,z,src\n', "malformed CSV"),
    (b'A,B,Q?,best,x\n', "wrong number of fields"),
    (b'A,B,Q?,best,,z,src\n', "field 'Correct Answers' is empty"),
    (b'A,B,Q?,b\xffest,x,z,src\n', "not valid UTF-8"),
])
def test_malformed_truthfulqa_csv(tmp_path, body, message):
    path = tmp_path / "tqa.csv"
    path.write_bytes(CSV_HEADER + body)
    with pytest.raises(DataError) as err:
        load_truthfulqa_csv(path)
    assert message in str(err.value) and f"{path}:" in str(err.value)
    assert ":2:" in str(err.value) or ":3:" in str(err.value), "the line is named"


def test_csv_missing_column(tmp_path):
    path = tmp_path / "tqa.csv"
    path.write_bytes(b"Question,Best Answer\nQ?,b\n")
    with pytest.raises(DataError, match=r"tqa.csv:1: missing column\(s\) \['Correct Answers', 'Incorrect Answers'\]"):
        load_truthfulqa_csv(path)


class FixedJudge(Judge):
    """Scores from a table, to check the protocols' arithmetic and position handling."""

    def __init__(self, table):
        self.table = table

    def rate(self, prompt, first, second):
        return self.table[(prompt, first)], self.table[(prompt, second)]


def test_protocols_on_ties_and_order():
    judge = FixedJudge({("p", "new"): 5, ("p", "base"): 5, ("q", "new"): 7, ("q", "base"): 3,
                        ("r", "new"): 2, ("r", "base"): 8})
    assert item_outcome(judge, "p", "new", "base", "armap") == 1.0, "armap counts ties as wins"
    assert item_outcome(judge, "p", "new", "base", "fair") == 0.5, "fair counts ties as half"
    triples = [("p", "new", "base"), ("q", "new", "base"), ("r", "new", "base")]
    assert win_rate(triples, judge, "armap").value == pytest.approx(200 / 3)
    assert win_rate(triples, judge, "fair").value == pytest.approx(50.0)


class PositionBiasedJudge(Judge):
    """Always prefers whatever is shown first: armap then always loses, fair gives exactly 50%."""

    def rate(self, prompt, first, second):
        return 9.0, 1.0


def test_fair_protocol_cancels_position_bias():
    triples = [(f"p{i}", "new", "base") for i in range(10)]
    assert win_rate(triples, PositionBiasedJudge(), "armap").value == 0.0
    assert win_rate(triples, PositionBiasedJudge(), "fair").value == 50.0


@needs_data
def test_win_rate_on_real_files_matches_hand_computation():
    new = load_answers(DATA / "alpaca-dream-base.jsonl", allow_empty=True)
    base = load_answers(DATA / "alpaca-qwen2.5-base.jsonl", allow_empty=True)
    triples = pair_answers(new, base)[:60]
    score = RuleJudge.score_text
    armap = [1.0 if score(n) >= score(b) else 0.0 for _, n, b in triples]
    fair = [1.0 if score(n) > score(b) else 0.5 if score(n) == score(b) else 0.0 for _, n, b in triples]
    got_armap, got_fair = win_rate(triples, RuleJudge(), "armap"), win_rate(triples, RuleJudge(), "fair")
    assert got_armap.value == pytest.approx(100 * sum(armap) / 60)
    assert got_fair.value == pytest.approx(100 * sum(fair) / 60)
    assert any(score(n) == score(b) for _, n, b in triples), "the subset has ties, so the protocols differ"
    assert got_armap.value > got_fair.value
    assert 0 < got_fair.stderr < 10


def test_unmatched_prompts_are_an_error(tmp_path):
    a = write(tmp_path, "a.jsonl", [json.dumps({"raw_prompt": "x", "responses": ["1"]}).encode()])
    b = write(tmp_path, "b.jsonl", [json.dumps({"raw_prompt": "y", "responses": ["1"]}).encode()])
    with pytest.raises(DataError, match="1 prompt\\(s\\) have no answer"):
        pair_answers(load_answers(a), load_answers(b), str(a), str(b))


def test_answers_then_winrate_closes_the_loop(micro_pair, tmp_path, capsys):
    """A model answers a prompts file; its answers are judged against another model's."""
    from benchmark.cli import main

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"instruction": f"what is {a} plus 2 ?"}) + "\n" for a in range(4)))
    for kind, path, out in (("dllm", micro_pair.dllm_path, "dllm.jsonl"), ("ar", micro_pair.ar_path, "ar.jsonl")):
        assert main(["answers", "--model-dir", str(path), "--kind", kind, "--prompts", str(prompts),
                     "--out", str(tmp_path / out), "--max-new-tokens", "8"]) == 0
    assert len(load_answers(tmp_path / "dllm.jsonl", allow_empty=True)) == 4
    capsys.readouterr()
    assert main(["winrate", "--answers", str(tmp_path / "dllm.jsonl"), "--base", str(tmp_path / "ar.jsonl"),
                 "--allow-empty"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 4 and 0 <= result["win_rate"] <= 100


def test_the_socket_guard_fails_a_non_loopback_connection():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, \
            pytest.raises(RuntimeError, match="tried to reach the network"):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed


def test_eval_forms_equal_the_old_commands(micro_pair, tmp_path, capsys):
    """`eval --prompts/--answers` give the same files and numbers as the `answers`/`winrate` aliases."""
    from benchmark.cli import main

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"instruction": f"what is {a} plus 1 ?"}) + "\n" for a in range(3)))
    dllm = str(micro_pair.dllm_path)
    assert main(["answers", "--model-dir", dllm, "--prompts", str(prompts), "--out", str(tmp_path / "old.jsonl"),
                 "--max-new-tokens", "8"]) == 0
    assert main(["eval", "--prompts", str(prompts), "--answers-out", str(tmp_path / "new.jsonl"), "--model-dir",
                 dllm, "--max-new-tokens", "8"]) == 0
    assert (tmp_path / "old.jsonl").read_text() == (tmp_path / "new.jsonl").read_text()
    assert main(["answers", "--model-dir", str(micro_pair.ar_path), "--kind", "ar", "--prompts", str(prompts),
                 "--out", str(tmp_path / "ar.jsonl"), "--max-new-tokens", "8"]) == 0
    capsys.readouterr()
    common = ["--base", str(tmp_path / "ar.jsonl"), "--allow-empty", "--protocol", "armap"]
    assert main(["winrate", "--answers", str(tmp_path / "new.jsonl"), *common]) == 0
    old = capsys.readouterr().out
    assert main(["eval", "--answers", str(tmp_path / "new.jsonl"), *common]) == 0
    assert capsys.readouterr().out == old and json.loads(old)["n"] == 3


def test_a_prompt_answered_twice_is_an_error_naming_both_lines(tmp_path):
    rows = [{"raw_prompt": "q1", "responses": ["a"]}, {"raw_prompt": "q2", "responses": ["b"]},
            {"raw_prompt": "q1 ", "responses": ["c"]}]
    path = tmp_path / "base.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=rf"{path}:3: the prompt 'q1' already has an answer at {path}:1"):
        load_answers(path)


def test_an_unclosed_quote_is_reported_at_the_line_that_opens_it(tmp_path):
    from benchmark.core.data import iter_csv

    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3,"4\n5,6\n7,8\n')
    with pytest.raises(DataError, match=r"t.csv:3: malformed CSV .*never closed"):
        list(iter_csv(path))
    path.write_text('a,b\n1,2\n3\n')
    with pytest.raises(DataError, match=r"t.csv:3: wrong number of fields"):
        list(iter_csv(path))


@pytest.mark.skipif(not (DATA.parent / "alpacaeval").is_dir(), reason="shared/data is not next to the project")
def test_alpacaeval_reference_outputs_load_as_answers_and_prompts():
    """AlpacaEval's gpt4_1106_preview outputs (a gzip-compressed JSON array) are an answers and a prompts file."""
    ref = DATA.parent / "alpacaeval" / "gpt4_1106_preview_model_outputs.json.gz"
    answers = load_answers(ref, allow_empty=True)
    assert len(answers) == 805 == len(load_prompts(ref)) and all(a.response.strip() for a in answers)
