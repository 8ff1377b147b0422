"""Loaders for the evaluation files the AR-MAP code uses (and the hub's copies), validated row by row.

Formats (see ``shared/data/README.md``):
    - prompts: jsonl with ``instruction`` (AlpacaEval, Arena-Hard);
    - answers: jsonl with ``raw_prompt`` and ``responses`` (a list, first element used, or a string), or
      AlpacaEval's ``instruction``/``output``; a trailing chat end token (``<|im_end|>``,
      ``<|endoftext|>``, ``<|eot_id|>``, ``</s>``) is stripped; extra fields are ignored;
    - TruthfulQA: the CSV with ``Question``, ``Best Answer``, ``Correct Answers``, ``Incorrect Answers``
      (``;``-separated), or the classic ``mc_task.json`` (``question``, ``mc2_targets`` as {answer: 0/1});
      the hub's ``multiple_choice`` config is read by ``tasks/truthfulqa.py``.

Every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.data import DataError, iter_csv, iter_jsonl, text_field

END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>", "<|eos|>")
_TRAILING_END = re.compile(r"(?:\s*(?:" + "|".join(re.escape(t) for t in END_TOKENS) + r"))+\s*$")


@dataclass(frozen=True)
class Answer:
    prompt: str
    response: str


@dataclass(frozen=True)
class MultipleChoice:
    """A TruthfulQA question: MC2 puts probability mass on ``true`` vs ``false`` answers."""

    question: str
    best: str
    true: tuple[str, ...]
    false: tuple[str, ...]


def strip_end_tokens(text: str) -> str:
    return _TRAILING_END.sub("", text).rstrip()


def load_prompts(path: str | Path, field: str = "instruction") -> list[str]:
    out = []
    for where, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        out.append(text_field(row, field, where))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def load_answers(path: str | Path, allow_empty: bool = False) -> list[Answer]:
    """Answers in either format; ``responses`` may be a list (first element) or a string.

    An empty answer is an error unless ``allow_empty``: real base-model files contain a few (a model that
    said nothing), which a win rate should judge as empty rather than drop.
    """
    out = []
    first_seen: dict[str, str] = {}
    for where, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        if "raw_prompt" in row or "responses" in row:
            prompt = text_field(row, "raw_prompt", where)
            if "responses" not in row:
                raise DataError(f"{where}: missing field 'responses'")
            responses = row["responses"]
            if isinstance(responses, list):
                if not responses or not isinstance(responses[0], str):
                    raise DataError(f"{where}: field 'responses' must be a non-empty list of strings")
                response = responses[0]
            elif isinstance(responses, str):
                response = responses
            else:
                raise DataError(f"{where}: field 'responses' must be a list or a string, "
                                f"got {type(responses).__name__}")
        else:
            prompt, response = text_field(row, "instruction", where), text_field(row, "output", where, True)
        response = strip_end_tokens(response)
        key = prompt.strip()
        if key in first_seen:  # answers are matched by prompt: a second answer would silently replace the first
            raise DataError(f"{where}: the prompt {key[:60]!r} already has an answer at {first_seen[key]}; "
                            "each prompt may be answered once")
        first_seen[key] = where
        if not response.strip() and not allow_empty:
            raise DataError(f"{where}: field 'responses' is empty (after stripping end tokens); to judge empty "
                            "answers as such, pass --allow-empty (winrate) or --set allow_empty=true (eval)")
        out.append(Answer(prompt, response))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def load_truthfulqa_csv(path: str | Path) -> list[MultipleChoice]:
    """The TruthfulQA CSV (a UTF-8 byte-order mark is accepted); answers are ``;``-separated lists."""
    need = ("Question", "Best Answer", "Correct Answers", "Incorrect Answers")
    out = []
    for where, row in iter_csv(path, need):
        values = {f: row[f].strip() for f in need}
        for f, v in values.items():
            if not v:
                raise DataError(f"{where}: field {f!r} is empty")
        true = tuple(a.strip() for a in values["Correct Answers"].split(";") if a.strip())
        false = tuple(a.strip() for a in values["Incorrect Answers"].split(";") if a.strip())
        if not true or not false:
            raise DataError(f"{where}: fields 'Correct Answers' and 'Incorrect Answers' need one answer each")
        out.append(MultipleChoice(values["Question"], values["Best Answer"], true, false))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def load_truthfulqa_mc_json(path: str | Path) -> list[MultipleChoice]:
    """TruthfulQA's ``mc_task.json`` (a JSON array, or jsonl): ``question`` and ``mc2_targets``, a mapping
    {answer: 1 (true) or 0 (false)}; the best answer is ``mc1_targets``' true one when given."""
    out = []
    for where, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        question = text_field(row, "question", where)
        targets = row.get("mc2_targets")
        if not isinstance(targets, dict) or not targets:
            raise DataError(f"{where}: field 'mc2_targets' must be a mapping {{answer: 0 or 1}}")
        bad = [a for a, label in targets.items() if label not in (0, 1) or isinstance(label, bool) or not a.strip()]
        if bad:
            raise DataError(f"{where}: field 'mc2_targets': answer {bad[0]!r} needs a label 0 or 1 and a text")
        true = tuple(a for a, label in targets.items() if label == 1)
        false = tuple(a for a, label in targets.items() if label == 0)
        if not true or not false:
            raise DataError(f"{where}: field 'mc2_targets' needs at least one true and one false answer")
        mc1 = row.get("mc1_targets")
        best = next((a for a, label in mc1.items() if label == 1), true[0]) if isinstance(mc1, dict) else true[0]
        out.append(MultipleChoice(question, best, true, false))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def pair_answers(new: list[Answer], base: list[Answer], new_path: str = "new", base_path: str = "base"
                 ) -> list[tuple[str, str, str]]:
    """(prompt, new response, base response) matched by prompt; every unmatched prompt is an error."""
    base_by_prompt = {a.prompt.strip(): a.response for a in base}
    missing = [a.prompt for a in new if a.prompt.strip() not in base_by_prompt]
    if missing:
        raise DataError(f"{new_path}: {len(missing)} prompt(s) have no answer in {base_path}, e.g. {missing[0][:80]!r}")
    return [(a.prompt, a.response, base_by_prompt[a.prompt.strip()]) for a in new]
