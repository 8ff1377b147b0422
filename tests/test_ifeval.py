"""IFEval with lm-eval's checkers, offline (no nltk download), strict and loose, prompt and instruction level."""

import json

import pytest

from benchmark.core.data import DataError
from benchmark.eval.ifeval import load_ifeval, offline_checkers, score_ifeval

ROWS = [
    {"key": 1, "prompt": "Write two sentences without commas.", "instruction_id_list": ["punctuation:no_comma"],
     "kwargs": [{}]},
    {"key": 2, "prompt": "Answer in lowercase, at least 5 words.",
     "instruction_id_list": ["change_case:english_lowercase", "length_constraints:number_words"],
     "kwargs": [{}, {"relation": "at least", "num_words": 5}]},
    {"key": 3, "prompt": "Use exactly 2 sentences.", "instruction_id_list": ["length_constraints:number_sentences"],
     "kwargs": [{"relation": "less than", "num_sentences": 3}]},
]


def test_checkers_score_known_answers():
    assert offline_checkers() in ("punkt", "regex")
    responses = ["The sky is blue. The sea is too.",  # follows (no comma)
                 "this one has only lowercase words in it",  # follows both
                 "One. Two. Three. Four."]  # four sentences: fails "less than 3"
    scores = score_ifeval(ROWS, responses)
    assert scores["prompt_level_strict_acc"] == pytest.approx(200 / 3)
    assert scores["inst_level_strict_acc"] == pytest.approx(75.0)
    # "too short" is lowercase (passes) but has 2 words, not >= 5 (fails): 1 of 4 instructions followed
    broken = score_ifeval(ROWS, ["Yes, a comma.", "too short", "One. Two. Three. Four."])
    assert broken["prompt_level_strict_acc"] == 0.0
    assert broken["inst_level_strict_acc"] == pytest.approx(25.0)


def test_scores_repeat():
    """langdetect (used by the case checkers) is random unless seeded; the same answers score the same."""
    answers = ["Yes, a comma.", "too short", "One. Two. Three. Four."]
    assert all(score_ifeval(ROWS, answers) == score_ifeval(ROWS, answers) for _ in range(10))


def test_loose_is_at_least_strict():
    responses = ["**The sky is blue.**", "*this has only lowercase words here*", "A. B."]
    scores = score_ifeval(ROWS, responses)
    assert scores["prompt_level_loose_acc"] >= scores["prompt_level_strict_acc"]
    assert scores["inst_level_loose_acc"] >= scores["inst_level_strict_acc"]


def test_malformed_rows(tmp_path):
    path = tmp_path / "ifeval.jsonl"
    path.write_text(json.dumps({"prompt": "x", "instruction_id_list": ["a"], "kwargs": [{}, {}]}) + "\n")
    with pytest.raises(DataError, match=r"ifeval.jsonl:1: field 'kwargs' must be a list of objects, one per"):
        load_ifeval(path)


def test_punkt_is_found_offline_and_counts_as_lm_eval():
    """With Punkt's parameters (nltk data, or the copy llama-index-core ships) lm-eval's own sentence and word
    counts are used; the regex stand-in would count "U.S." and "P.S." as sentence ends."""
    assert offline_checkers() == "punkt", "install the Punkt parameters: pip install --no-deps llama-index-core"
    import nltk
    from lm_eval.tasks.ifeval import instructions_util

    text = "I moved to the U.S. in May. It was fine. P.S. Write soon."
    from benchmark.eval.ifeval import _RegexSentences

    expected = len(nltk.tokenize.PunktTokenizer("english").tokenize(text))
    assert instructions_util.count_sentences(text) == expected == 4  # "U.S. in May." stays one sentence
    assert len(_RegexSentences().tokenize(text)) == 5  # what the stand-in would have counted
    words = "Dr. Smith met Mr. Jones at 5 p.m. yesterday."
    assert instructions_util.count_words(words) == len(nltk.tokenize.RegexpTokenizer(r"\w+").tokenize(words))
    row = {"key": 9, "prompt": "Use fewer than 5 sentences.", "instruction_id_list":
           ["length_constraints:number_sentences"], "kwargs": [{"relation": "less than", "num_sentences": 5}]}
    assert score_ifeval([row], [text])["prompt_level_strict_acc"] == 100.0  # regex splitting counts 5: fail
