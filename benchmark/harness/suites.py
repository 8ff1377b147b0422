"""Suites: which families, tasks and methods run together, and under what shared budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.core.api import Budget
from benchmark.core.registry import register_suite


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    families: tuple[str, ...]
    tasks: tuple[str, ...]
    methods: tuple[str, ...] | None = None  # None: every registered method
    budget: Budget = field(default_factory=Budget)
    n_eval: int = 48  # evaluation prompts per (task, seed)
    n_heldout: int = 64  # held-out preference pairs per (task, seed), e.g. for choosing gamma

    @property
    def n_train(self) -> int:
        return self.budget.steps * self.budget.batch_size  # one epoch over fresh pairs


register_suite("tiny", Suite(
    name="tiny",
    description="embedded ~1M-param Qwen2 family and three synthetic tasks; offline, minutes on a laptop",
    families=("tiny",),
    tasks=("arith", "facts", "listing"),
    n_eval=10_000,  # every prompt of each task's eval split (480-524): a 5-point difference is detectable
))


# The paper's models and tasks (benchmark/harness/paper.py); `run --suite paper --dry-run` checks and plans.
register_suite("paper", Suite(
    name="paper",
    description="AR-MAP paper pairs Qwen2.5-7B->Dream-7B, Qwen3-8B->SDAR-8B (GPU, HF cache, judge key); --dry-run",
    families=("qwen2.5-dream", "qwen3-sdar"),
    tasks=("alpacaeval", "arena-hard", "truthfulqa-mc2"),
))
