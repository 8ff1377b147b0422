"""A synthetic task (``arith``, ``facts``, ``listing``) as an eval task: its eval prompts, decoded with the
family's sampler, scored by its verifier, and the win rate against the base row's answers.

A synthetic task is both halves of a suite: its pairs are a training set (``harness/training_sets.py``) and
its prompts and verifier this eval task. Its eval split is drawn by the same random stream as the training
pairs (after them), so loading it needs the suite's sizes: the options ``n_train`` and ``n_heldout``.
"""

from __future__ import annotations

from typing import ClassVar

from benchmark.core.api import EvalItem, Task
from benchmark.eval.eval_task import EvalRun, EvalTask, Option, mean_and_stderr


def win_scores(task: Task, items: list[EvalItem], responses: list[str], base: list[dict]) -> list[float]:
    """Per item 1 / 0.5 / 0 by the task's main metric against the base row's samples (the fair protocol)."""
    main = task.metrics[0].name
    if [b["prompt"] for b in base] != [i.prompt for i in items]:
        raise ValueError("the base model's samples were made on different prompts; rerun with --force")
    out = []
    for item, response, ref in zip(items, responses, base):
        mine, theirs = task.score(item, response)[main], ref["scores"][main]
        out.append(1.0 if mine > theirs else 0.5 if mine == theirs else 0.0)
    return out


def evaluate_responses(task: Task, items: list[EvalItem], responses: list[str], base: list[dict] | None):
    """(metrics in percent with standard errors over items, per-item samples); ``win_rate`` given ``base``."""
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


class SyntheticEvalTask(EvalTask):
    """The eval half of a synthetic ``Task``; ``run.family`` (the family's ``ModelPair``) gives the chat
    prompt and the sampler, ``run.reference`` the base row's samples."""

    options: ClassVar[dict[str, Option]] = {
        "n_train": Option(320, "training pairs drawn before the eval split (one random stream)", int),
        "n_heldout": Option(64, "held-out pairs drawn before the eval split", int),
    }

    def __init__(self, task: Task) -> None:
        self.task = task
        self.name, self.version, self.description = task.name, task.version, task.description

    def parse_row(self, row: dict, where: str) -> EvalItem:
        return EvalItem.from_row(row, where)

    def load(self, run: EvalRun) -> list[EvalItem]:
        if run.data is not None:
            return super().load(run)
        return self.task.build(run.seed, run.options["n_train"], run.options["n_heldout"], run.limit or 10**9).eval

    def evaluate(self, lm, items: list[EvalItem], run: EvalRun):
        from benchmark.models.generation import decode

        pair = run.family
        if pair is None:
            raise ValueError(f"task {self.name!r} decodes with a family's sampler: score it inside a suite")
        responses = decode(lm.model, lm.tok, lm.kind, [pair.format_prompt(i.prompt) for i in items], pair.sampler,
                           pair.mask_token_id, pair.shift, run.seed)
        return evaluate_responses(self.task, items, responses, run.reference)
