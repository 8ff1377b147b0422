"""GSM8K / MATH500 scoring: the final answer (last ``\\boxed{}``, else GSM8K's ``#### n``, else the last
number) after normalisation, several samples per question.

Data rows: GSM8K (``question``, ``answer`` ending in ``#### n``) or MATH500 (``problem``, ``answer``).
"""

from __future__ import annotations

import re

from benchmark.core.data import DataError, text_field
from benchmark.eval.eval_task import EvalRun, EvalTask, Option, chat
from benchmark.eval.scoring import mean_and_stderr

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    """Contents of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    return None


def extract_answer(text: str) -> str | None:
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def normalize(answer: str) -> str:
    s = answer.strip().strip("$").strip()
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("dfrac", "frac")
    s = s.replace("tfrac", "frac").replace(" ", "").rstrip(".")
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"^(-?)\\frac\{(-?\d+)\}\{(\d+)\}$", r"\1\2/\3", s)
    if re.fullmatch(r"-?[\d,]+(\.\d+)?", s):
        s = s.replace(",", "")
        value = float(s)
        s = str(int(value)) if value == int(value) else repr(value)
    return s


def is_correct(response: str, reference: str) -> bool:
    got = extract_answer(response)
    return got is not None and normalize(got) == normalize(reference)


def load_math(path) -> list[tuple[str, str]]:
    """(question, reference answer) from GSM8K- or MATH500-format jsonl."""
    rows = FinalAnswerTask().load_file(path)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def math_accuracy(lm, rows: list[tuple[str, str]], prompt: str, samples: int, temperature: float,
                  max_new_tokens: int) -> tuple[list[float], list[dict]]:
    """Mean accuracy over ``samples`` answers per question (greedy once when temperature is 0)."""
    from benchmark.eval.lm_eval_model import Request

    samples = samples if temperature > 0 else 1
    kwargs = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": temperature > 0, "temperature": temperature}
    requests = [Request(prompt.format(q=q), kwargs) for q, _ in rows for _ in range(samples)]
    outputs = lm.generate_until(requests)
    per_question, records = [], []
    for i, (question, reference) in enumerate(rows):
        answers = outputs[i * samples:(i + 1) * samples]
        correct = [is_correct(a, reference) for a in answers]
        per_question.append(sum(correct) / len(correct))
        records.append({"question": question, "reference": reference, "responses": answers, "correct": correct})
    return per_question, records


BOXED_PROMPT = "{q}\nPlease reason step by step, and put your final answer within \\boxed{{}}."


class FinalAnswerTask(EvalTask):
    """Exact match of the final answer, the mean over ``samples`` answers per question (GSM8K, MATH500).

    Options: ``samples`` (default 4; 1 when temperature is 0), ``temperature`` (0.7), ``max_new_tokens``
    (512), ``prompt`` (``{q}`` is the question; the default asks for a boxed answer), ``chat`` (wrap the
    prompt in the model's chat template, default true).
    """

    identity_options = ("samples", "temperature", "chat")
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
        return question, answer

    def evaluate(self, lm, items: list[tuple[str, str]], run: EvalRun) -> tuple[dict[str, dict], list[dict]]:

        o = run.options
        rows = [((chat(lm, o["prompt"].format(q=q)) if o["chat"] else o["prompt"].format(q=q)), ref)
                for q, ref in items]
        per_question, records = math_accuracy(lm, rows, "{q}", o["samples"], o["temperature"], o["max_new_tokens"])
        for record, (question, _) in zip(records, items):
            record["question"] = question
        mean, se = mean_and_stderr(per_question)
        return {"accuracy": {"value": 100 * mean, "stderr": 100 * se, "higher_is_better": True,
                             "display": "Accuracy (mean over samples)"}}, records

