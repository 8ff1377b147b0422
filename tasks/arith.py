"""Math with a verifiable answer: one-digit addition and subtraction, scored by exact match.

Each of the 155 sums and differences is asked in 12 phrasings (1,860 prompts, so the eval split holds
about 450: enough to see a 5-point difference), and each phrasing has its own habit.

The pre-training corpus answers each question either correctly or with a fixed off-by-one slip, in a
proportion that depends on the question; preference pairs put the correct answer over the slip.
"""

from __future__ import annotations

import random

from benchmark.core.api import EvalItem, Metric, PreferencePair, Task, TaskData
from benchmark.core.registry import register_task
from tasks.synthetic import bad_habit, build_task_data

TEMPLATES = ("what is {a} {op} {b} ?", "compute {a} {op} {b} .", "how much is {a} {op} {b} ?",
             "tell me {a} {op} {b} .", "{a} {op} {b} equals what ?", "solve {a} {op} {b} .",
             "quick , what is {a} {op} {b} ?", "please compute {a} {op} {b} .", "find {a} {op} {b} .",
             "give me {a} {op} {b} .", "what do you get from {a} {op} {b} ?", "work out {a} {op} {b} .")


def _questions() -> dict[str, int]:
    out = {}
    for template in TEMPLATES:
        for a in range(10):
            for b in range(10):
                out[template.format(a=a, op="plus", b=b)] = a + b
                if a >= b:
                    out[template.format(a=a, op="minus", b=b)] = a - b
    return out


QUESTIONS = _questions()


def _slip(answer: int) -> int:
    return answer + 1


@register_task("arith")
class ArithTask(Task):
    """Exact-match arithmetic (the paper's GSM8K/MATH axis, in miniature)."""

    name = "arith"
    version = "2"  # 12 phrasings per question
    description = "one-digit arithmetic, exact-match answer (math axis)"
    metrics = (Metric("score", "Exact match"),)

    def build(self, seed: int, n_train: int, n_heldout: int, n_eval: int) -> TaskData:
        def make_pair(q: str, rng: random.Random) -> PreferencePair:
            return PreferencePair(q, str(QUESTIONS[q]), str(_slip(QUESTIONS[q])))

        def make_item(q: str) -> EvalItem:
            return EvalItem(q, {"answer": str(QUESTIONS[q])})

        return build_task_data(list(QUESTIONS), make_pair, make_item, seed, n_train, n_heldout, n_eval)

    def score(self, item: EvalItem, response: str) -> dict[str, float]:
        words = response.split()
        return {"score": float(bool(words) and words[0] == item.target["answer"])}

    def corpus(self, rng: random.Random, n: int) -> list[tuple[str, str]]:
        keys = list(QUESTIONS)
        out = []
        for _ in range(n):
            q = rng.choice(keys)
            answer = _slip(QUESTIONS[q]) if rng.random() < bad_habit(q) else QUESTIONS[q]
            out.append((q, str(answer)))
        return out
