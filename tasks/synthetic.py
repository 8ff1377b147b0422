"""Shared machinery of the embedded synthetic tasks: deterministic splits and per-prompt habits.

Every synthetic prompt belongs, by a hash of its text, to exactly one split (train 60%, held-out 15%,
eval 25%), so training pairs never contain an evaluation prompt, whatever the seed. Each prompt also
has a fixed *habit*: how often the pre-training corpus shows the bad behaviour for it. Habits above 0.5
make the base model's greedy answer wrong on that prompt, which leaves alignment room to show (or fail
to show) an effect.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Literal

from benchmark.core.api import EvalItem, PreferencePair, TaskData

Split = Literal["train", "heldout", "eval"]


def stable_fraction(text: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by ``text`` (independent of Python's hash seed)."""
    digest = hashlib.sha256(f"{salt}|{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str) -> Split:
    u = stable_fraction(key, "split")
    return "train" if u < 0.60 else "heldout" if u < 0.75 else "eval"


def bad_habit(key: str, low: float = 0.2, high: float = 0.8) -> float:
    """Probability that the corpus answers ``key`` badly; fixed per prompt."""
    return low + (high - low) * stable_fraction(key, "habit")


def build_task_data(
    keys: Sequence[str],
    make_pair: Callable[[str, random.Random], PreferencePair],
    make_item: Callable[[str], EvalItem],
    seed: int,
    n_train: int,
    n_heldout: int,
    n_eval: int,
) -> TaskData:
    """Draw pairs from train/held-out keys and eval items (without replacement) from eval keys."""
    rng = random.Random(seed)
    by_split: dict[str, list[str]] = {"train": [], "heldout": [], "eval": []}
    for key in keys:
        by_split[split_of(key)].append(key)
    train = [make_pair(rng.choice(by_split["train"]), rng) for _ in range(n_train)]
    heldout = [make_pair(rng.choice(by_split["heldout"]), rng) for _ in range(n_heldout)]
    eval_keys = rng.sample(by_split["eval"], min(n_eval, len(by_split["eval"])))
    return TaskData(train=train, heldout=heldout, eval=[make_item(k) for k in eval_keys])
