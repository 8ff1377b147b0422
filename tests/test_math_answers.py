"""Final-answer extraction and normalisation for GSM8K and MATH500."""

import json

import pytest

from benchmark.core.data import DataError
from benchmark.eval.math_answers import last_boxed, load_math

TRICKY = ["#### 1,234 dollars", "#### 72\nThe answer is 70.", "The answer is $1,234.", "so #### -3.5.",
          "it costs 12 then 18 then 1,250.", "\\boxed{} and finally #### 42", "no number here",
          "#### 5 or #### 6", "3.14159 and 2"]


@pytest.mark.parametrize("text", TRICKY)
def test_gsm8k_strict_and_flexible_equal_lm_eval(text):
    """Our two lm-eval metrics against lm-eval's own filter chain and metric, configured from its gsm8k.yaml."""
    from importlib import resources

    import yaml
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    from benchmark.eval.math_answers import gsm8k_scores

    spec = yaml.safe_load(resources.files("lm_eval").joinpath("tasks/gsm8k/gsm8k.yaml").read_text())
    metric = spec["metric_list"][0]
    for reference in ("1234", "72", "70", "-3.5", "1250", "42", "5", "2"):
        ours = gsm8k_scores(text, reference)
        for flt in spec["filter_list"]:
            step = flt["filter"][0]
            got = list(RegexFilter(regex_pattern=step["regex_pattern"], group_select=step.get("group_select", 0))
                       .apply([[text]], [None]))[0][0]
            expected = exact_match_hf_evaluate([got], [reference], regexes_to_ignore=metric["regexes_to_ignore"],
                                               ignore_case=metric["ignore_case"])["exact_match"]
            assert ours[flt["name"].replace("-", "_")] == expected, (flt["name"], reference)


@pytest.mark.parametrize("text, reference, correct", [
    ("#### 1,234 dollars", "1234", True),  # not the whole tail after ####
    ("#### 72\nThe answer is 70.", "72", True),  # the first #### wins, as lm-eval's strict rule
    ("#### 72\nThe answer is 70.", "70", False),
    ("so \\boxed{} and then #### 42", "42", True),  # an empty box does not override a later answer
    ("first 5, then \\boxed{6}", "6", True),
    ("\\boxed{6} ... wait, \\boxed{7}", "6", False),
    ("I think 3 then 7, finally 1,250 apples.", "1250", True),
    ("the answer is 72.0", "72", True),
    ("no number here", "1", False),
])
def test_gsm8k_accuracy(text, reference, correct):
    from benchmark.eval.math_answers import gsm8k_scores

    assert gsm8k_scores(text, reference)["accuracy"] == float(correct)


@pytest.mark.parametrize("response, reference", [
    ("\\boxed{0.5}", "\\frac{1}{2}"), ("\\boxed{\\sqrt3}", "\\sqrt{3}"), ("\\boxed{10\\%}", "10"),
    ("\\boxed{90^\\circ}", "90"), ("\\boxed{x = 5}", "5"), ("\\boxed{5 \\text{ cm}}", "5"), ("\\boxed{.5}", "\\frac12"),
    ("\\boxed{\\$5}", "5"), ("so \\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}"),
])
def test_math500_equivalences_by_math_verify(response, reference):
    from benchmark.eval.math_answers import math_verify_correct

    assert math_verify_correct(response, reference)


def test_math500_wrong_answers_stay_wrong():
    from benchmark.eval.math_answers import math_verify_correct

    assert not math_verify_correct("\\boxed{4}", "3")
    assert not math_verify_correct("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}")
    assert not math_verify_correct("no answer", "3")
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
    assert all(v["accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0) for v in per_question)


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
