"""Pairwise win rate of a method's answers against the base model's own answers.

Protocols:
    ``armap``  AR-MAP's released code: the base answer is always shown first, each answer gets a 1-10
               score, win = score_new >= score_base (ties count as wins), rate = wins / #parsed.
    ``fair``   (default) both orders; each order gives 1 (new better), 1/2 (tie) or 0; an item is the
               mean of its parsed orders, so position bias cancels and ties count half.

The standard error is a bootstrap over prompts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from tqdm.auto import tqdm

from benchmark.eval.judges import Judge

Protocol = Literal["armap", "fair"]


@dataclass(frozen=True)
class WinRate:
    value: float  # percent
    stderr: float  # percent, bootstrap
    n: int
    n_parsed: int
    protocol: str
    per_item: list[float | None]


def _outcome(new: float | None, base: float | None) -> float | None:
    if new is None or base is None:
        return None
    return 1.0 if new > base else 0.5 if new == base else 0.0


def item_outcome(judge: Judge, prompt: str, new: str, base: str, protocol: Protocol) -> float | None:
    if protocol == "armap":
        s_base, s_new = judge.rate(prompt, base, new)  # base answer first, as the released script
        return None if s_new is None or s_base is None else float(s_new >= s_base)
    if protocol == "fair":
        s_base, s_new = judge.rate(prompt, base, new)
        forward = _outcome(s_new, s_base)
        s_new2, s_base2 = judge.rate(prompt, new, base)
        backward = _outcome(s_new2, s_base2)
        parsed = [o for o in (forward, backward) if o is not None]
        return sum(parsed) / len(parsed) if parsed else None
    raise ValueError(f"unknown protocol {protocol!r}; choose 'armap' or 'fair'")


def win_rate(triples: list[tuple[str, str, str]], judge: Judge, protocol: Protocol = "fair",
             bootstrap: int = 1000, seed: int = 0) -> WinRate:
    """``triples``: (prompt, new answer, base answer)."""
    per_item = [item_outcome(judge, p, new, base, protocol)
                for p, new, base in tqdm(triples, desc=f"judge ({protocol})", leave=False)]
    parsed = [o for o in per_item if o is not None]
    if not parsed:
        return WinRate(float("nan"), float("nan"), len(triples), 0, protocol, per_item)
    mean = sum(parsed) / len(parsed)
    rng = random.Random(seed)
    means = []
    for _ in range(bootstrap):
        sample = [parsed[rng.randrange(len(parsed))] for _ in parsed]
        means.append(sum(sample) / len(sample))
    mu = sum(means) / len(means)
    se = (sum((m - mu) ** 2 for m in means) / max(1, len(means) - 1)) ** 0.5
    return WinRate(100 * mean, 100 * se, len(triples), len(parsed), protocol, per_item)
