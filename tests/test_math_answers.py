"""Final-answer extraction and normalisation for GSM8K and MATH500."""

import json

import pytest

from benchmark.core.data import DataError
from benchmark.eval.math_answers import extract_answer, is_correct, last_boxed, load_math, normalize


@pytest.mark.parametrize("text, answer", [
    ("so the total is \\boxed{\\frac{1}{2}} and \\boxed{42}", "42"),
    ("nested \\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
    ("Natalia sold 48/2 = 24 clips.\n#### 72", "72"),
    ("I think 3 then 7, finally 1,250 apples.", "1,250"),
    ("no number here", None),
])
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize("a, b", [("1,250", "1250"), ("$72$", "72"), ("72.0", "72"), ("\\dfrac{1}{2}", "1/2"),
                                  ("\\frac12", "1/2"), ("\\text{(B)}", "(B)"), ("0.50", "0.5")])
def test_normalize_equivalences(a, b):
    assert normalize(a) == normalize(b)


def test_is_correct_uses_the_last_answer():
    assert is_correct("first 5, then \\boxed{6}", "6")
    assert not is_correct("\\boxed{6} ... wait, \\boxed{7}", "6")
    assert last_boxed("\\boxed{unclosed") is None


def test_load_both_formats_and_errors(tmp_path):
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text(json.dumps({"question": "q", "answer": "work #### 1,000"}) + "\n")
    math = tmp_path / "math.jsonl"
    math.write_text(json.dumps({"problem": "p", "answer": "\\frac{1}{2}", "solution": "..."}) + "\n")
    assert load_math(gsm) == [("q", "1,000")] and load_math(math) == [("p", "\\frac{1}{2}")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'answer' of a GSM8K row must end in"):
        load_math(bad)


def test_several_samples_on_the_micro_dllm(micro_pair):
    from benchmark.eval.lm_eval_model import BenchLM
    from benchmark.eval.math_answers import math_accuracy

    lm = BenchLM(str(micro_pair.dllm_path))
    rows = [(f"what is {a} plus 1 ?", str(a + 1)) for a in range(4)]
    per_question, records = math_accuracy(lm, rows, micro_pair.format_prompt("{q}"), samples=3, temperature=1.0,
                                          max_new_tokens=8)
    assert len(per_question) == 4 and all(len(r["responses"]) == 3 for r in records)
    assert all(v in (0.0, 1 / 3, 2 / 3, 1.0) for v in per_question)


def test_eval_gsm8k_stores_a_cell(micro_pair, tmp_path):
    from benchmark.cli import main

    data = tmp_path / "gsm.jsonl"
    data.write_text("".join(json.dumps({"question": f"what is {a} plus 1 ?", "answer": f"#### {a + 1}"}) + "\n"
                            for a in range(3)))
    assert main(["eval", "--task", "gsm8k", "--model-dir", str(micro_pair.dllm_path), "--data", str(data),
                 "--set", "samples=2", "--set", "max_new_tokens=8", "--set", "chat=false",
                 "--set", "prompt=" + micro_pair.format_prompt("{q}"), "--family", "micro", "--method", "base",
                 "--out", str(tmp_path / "res")]) == 0
    cell = tmp_path / "res/lm-eval/cells/micro/base/gsm8k[samples=2,chat=False]"
    rec = json.loads((cell / "seed0.json").read_text())
    assert rec["main_metric"] == "accuracy" and rec["config"]["options"]["samples"] == "2" and rec["n_eval"] == 3
    lines = (cell / "seed0.samples.jsonl").read_text().splitlines()
    assert all(len(s["responses"]) == 2 for s in map(json.loads, lines))


def test_ar_model_samples_when_asked_and_repeats_with_the_same_seed(micro_pair):
    from benchmark.eval.lm_eval_model import BenchARLM, Request

    prompt = micro_pair.format_prompt("what is 3 plus 1 ?")
    sampled = {"until": [], "max_gen_toks": 8, "do_sample": True, "temperature": 5.0}
    greedy = {"until": [], "max_gen_toks": 8}
    lm = BenchARLM(str(micro_pair.ar_path), batch_size=1, seed=3)
    outs = lm.generate_until([Request(prompt, sampled) for _ in range(8)])
    assert len(set(outs)) > 1  # a hot temperature gives different answers to the same prompt
    assert BenchARLM(str(micro_pair.ar_path), batch_size=1, seed=3).generate_until(
        [Request(prompt, sampled) for _ in range(8)]) == outs
    assert len(set(lm.generate_until([Request(prompt, greedy) for _ in range(3)]))) == 1
