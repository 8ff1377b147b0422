"""GSM8K / MATH500 scoring, with the field's own rules, several samples per question.

GSM8K reports three accuracies:
    ``accuracy``          the last non-empty ``\\boxed{}`` (what the default prompt asks for), else lm-eval's
                          strict rule, else its flexible rule; compared after lm-eval's normalisation
                          (``,`` ``$`` and a final ``.`` dropped, case ignored), numbers compared as numbers;
    ``strict_match``      lm-eval's ``gsm8k`` filter of that name: the first ``#### <number>``;
    ``flexible_extract``  lm-eval's other filter: the last number in the answer.
The two lm-eval metrics use lm-eval's own ``RegexFilter`` and ``exact_match`` with the task's settings,
so they equal lm-eval's numbers on the same responses.

MATH500 reports ``accuracy`` by Hugging Face's ``math-verify`` (the standard of current reasoning
evaluations): the gold answer and the response are parsed to expressions and compared symbolically, so
``0.5`` equals ``\\frac{1}{2}``, ``\\sqrt3`` equals ``\\sqrt{3}``, ``x = 5`` and ``5 \\text{ cm}`` equal ``5``.

Data rows: GSM8K (``question``, ``answer`` ending in ``#### n``) or MATH500 (``problem``, ``answer``).
"""

from __future__ import annotations

import re

from benchmark.core.data import DataError, text_field
from benchmark.eval.eval_task import EvalRun, EvalTask, Option, chat, mean_and_stderr

# lm-eval 0.4's tasks/gsm8k/gsm8k.yaml (metadata version 3.0)
GSM8K_STRICT = r"#### (\-?[0-9\.\,]+)"
GSM8K_FLEXIBLE = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM8K_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]
GSM8K_METRICS = ("accuracy", "strict_match", "flexible_extract")


def last_boxed(text: str) -> str | None:
    """Contents of the last non-empty ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    found = None
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 0, match.end() - 1
        for j in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                inner = text[start + 1:j]
                if inner.strip():
                    found = inner
                break
    return found


def _regex(pattern: str, group_select: int, text: str) -> str | None:
    """lm-eval's ``RegexFilter`` on one response (``[invalid]`` -> None)."""
    from lm_eval.filters.extraction import RegexFilter

    out = list(RegexFilter(regex_pattern=pattern, group_select=group_select).apply([[text]], [None]))[0][0]
    return None if out == "[invalid]" else out


def _lm_eval_match(prediction: str | None, reference: str) -> float:
    from lm_eval.api.metrics import exact_match_hf_evaluate

    if prediction is None:
        return 0.0
    return float(exact_match_hf_evaluate([prediction], [reference], regexes_to_ignore=GSM8K_IGNORE,
                                         ignore_case=True)["exact_match"])


def _gsm8k_normal(text: str) -> str:
    for pattern in GSM8K_IGNORE:
        text = re.sub(pattern, "", text)
    return text.strip().lower()


def extract_answer(text: str) -> str | None:
    """GSM8K's final answer: the last non-empty box, else the first ``#### n``, else the last number."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    return _regex(GSM8K_STRICT, 0, text) or _regex(GSM8K_FLEXIBLE, -1, text)


def gsm8k_scores(response: str, reference: str) -> dict[str, float]:
    got = extract_answer(response)
    correct = False
    if got is not None:
        a, b = _gsm8k_normal(got), _gsm8k_normal(reference)
        try:
            correct = a == b or float(a) == float(b)
        except ValueError:
            correct = False
    return {"accuracy": float(correct),
            "strict_match": _lm_eval_match(_regex(GSM8K_STRICT, 0, response), reference),
            "flexible_extract": _lm_eval_match(_regex(GSM8K_FLEXIBLE, -1, response), reference)}


def math_verify_correct(response: str, reference: str) -> bool:
    """``math-verify``: the reference (boxed, so a bare expression parses as LaTeX) against the response."""
    from math_verify import parse, verify

    gold = parse(f"\\boxed{{{reference}}}") or parse(reference)
    return bool(gold) and bool(verify(gold, parse(response)))


def math_scores(response: str, reference: str) -> dict[str, float]:
    return {"accuracy": float(math_verify_correct(response, reference))}


def load_math(path) -> list[tuple[str, str]]:
    """(question, reference answer) from GSM8K- or MATH500-format jsonl."""
    rows = FinalAnswerTask().load_file(path)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def math_accuracy(lm, rows: list[tuple[str, str]], prompt: str, samples: int, temperature: float,
                  max_new_tokens: int, score=gsm8k_scores) -> tuple[list[dict[str, float]], list[dict]]:
    """Per question, each metric's mean over ``samples`` answers (greedy once when temperature is 0)."""
    from benchmark.eval.lm_eval_model import Request

    samples = samples if temperature > 0 else 1
    kwargs = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": temperature > 0, "temperature": temperature}
    requests = [Request(prompt.format(q=q), kwargs) for q, _ in rows for _ in range(samples)]
    outputs = lm.generate_until(requests)
    per_question, records = [], []
    for i, (question, reference) in enumerate(rows):
        answers = outputs[i * samples:(i + 1) * samples]
        scored = [score(a, reference) for a in answers]
        per_question.append({m: sum(s[m] for s in scored) / len(scored) for m in scored[0]})
        records.append({"question": question, "reference": reference, "responses": answers,
                        "correct": [bool(s["accuracy"]) for s in scored], "scores": scored})
    return per_question, records


BOXED_PROMPT = "{q}\nPlease reason step by step, and put your final answer within \\boxed{{}}."


class FinalAnswerTask(EvalTask):
    """Exact match of the final answer, the mean over ``samples`` answers per question (GSM8K, MATH500).

    Options: ``samples`` (default 4; 1 when temperature is 0), ``temperature`` (0.7), ``max_new_tokens``
    (512), ``prompt`` (``{q}`` is the question; the default asks for a boxed answer), ``chat`` (wrap the
    prompt in the model's chat template, default true).
    """

    identity_options = ("samples", "temperature", "chat")
    scorer = "gsm8k"  # or "math" (math-verify)
    options = {
        "samples": Option(4, "answers per question", int),
        "temperature": Option(0.7, "sampling temperature (0: one greedy answer)", float),
        "max_new_tokens": Option(512, "tokens per answer", int),
        "prompt": Option(BOXED_PROMPT, "prompt template; {q} is the question"),
        "chat": Option(True, "wrap the prompt in the model's chat template", lambda v: v.lower() in ("1", "true")),
    }

    def parse_row(self, row: dict, where: str) -> tuple[str, str]:
        if "question" not in row and "problem" not in row:
            raise DataError(f"{where}: missing field 'question' (GSM8K) or 'problem' (MATH500)")
        question = text_field(row, "question" if "question" in row else "problem", where)
        answer = row.get("answer")
        if not isinstance(answer, str | int | float) or not str(answer).strip():
            raise DataError(f"{where}: field 'answer' must be a non-empty string or a number")
        answer = str(answer)
        if "question" in row:
            if "####" not in answer:
                raise DataError(f"{where}: field 'answer' of a GSM8K row must end in '#### <number>'")
            answer = answer.rsplit("####", 1)[1].strip()
            if not re.fullmatch(r"-?[0-9][0-9,]*(\.[0-9]+)?", answer):
                raise DataError(f"{where}: field 'answer' of a GSM8K row must end in '#### <number>', got "
                                f"'#### {answer}'")
        return question, answer

    def load(self, run: EvalRun) -> list[tuple[str, str]]:
        """The rows, with a question asked twice refused when its gold answers differ (one would score wrong)."""
        items = super().load(run)
        gold: dict[str, str] = {}
        for question, answer in items:
            if gold.setdefault(question, answer) != answer:
                raise DataError(f"{run.data or (run.hub or self.hub).id}: the question {question[:60]!r} appears "
                                f"twice with different answers ({gold[question]!r} and {answer!r})")
        return items

    def evaluate(self, lm, items: list[tuple[str, str]], run: EvalRun) -> tuple[dict[str, dict], list[dict]]:
        o = run.options
        rows = [((chat(lm, o["prompt"].format(q=q)) if o["chat"] else o["prompt"].format(q=q)), ref)
                for q, ref in items]
        score = gsm8k_scores if self.scorer == "gsm8k" else math_scores
        per_question, records = math_accuracy(lm, rows, "{q}", o["samples"], o["temperature"], o["max_new_tokens"],
                                              score)
        for record, (question, _) in zip(records, items):
            record["question"] = question
        displays = {"accuracy": "Accuracy (mean over samples)" if self.scorer == "gsm8k" else
                    "Accuracy by math-verify (mean over samples)",
                    "strict_match": "lm-eval strict-match", "flexible_extract": "lm-eval flexible-extract"}
        metrics = {}
        for name in per_question[0]:
            mean, se = mean_and_stderr([q[name] for q in per_question])
            metrics[name] = {"value": 100 * mean, "stderr": 100 * se, "higher_is_better": True,
                             "display": displays[name]}
        return metrics, records

