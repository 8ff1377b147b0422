"""Scoring a preference task's answers with its verifier, and the win rate against the base model.

The win rate against the base model's own answers is judged by the task's verifier on the main metric:
a win counts 1, a tie 1/2 (the fair protocol).
"""

from __future__ import annotations

import math

from benchmark.core.api import EvalItem, Task


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def win_scores(task: Task, items: list[EvalItem], responses: list[str], base: list[dict]) -> list[float]:
    """Per item 1 / 0.5 / 0 by the task's main metric; ``base`` is the base cell's samples."""
    main = task.metrics[0].name
    if [b["prompt"] for b in base] != [i.prompt for i in items]:
        raise ValueError("the base model's samples were made on different prompts; rerun with --force")
    out = []
    for item, response, ref in zip(items, responses, base):
        mine, theirs = task.score(item, response)[main], ref["scores"][main]
        out.append(1.0 if mine > theirs else 0.5 if mine == theirs else 0.0)
    return out


def evaluate(task: Task, items: list[EvalItem], responses: list[str], base: list[dict] | None):
    """Return (metrics, samples). Metrics are percentages with standard errors over items."""
    per_item = [task.score(i, r) for i, r in zip(items, responses)]
    metrics = {}
    for m in task.metrics:
        mean, se = mean_and_stderr([s[m.name] for s in per_item])
        metrics[m.name] = {"value": 100 * mean, "stderr": 100 * se, "display": m.display,
                           "higher_is_better": m.higher_is_better}
    samples = [{"prompt": i.prompt, "response": r, "scores": s} for i, r, s in zip(items, responses, per_item)]
    if base is not None:
        wins = win_scores(task, items, responses, base)
        mean, se = mean_and_stderr(wins)
        metrics["win_rate"] = {"value": 100 * mean, "stderr": 100 * se, "display": "Win rate vs base (ties 1/2)",
                               "higher_is_better": True}
        for s, w in zip(samples, wins):
            s["win"] = w
    return metrics, samples
