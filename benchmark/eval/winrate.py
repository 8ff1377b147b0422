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
    value: float | None  # percent; None when no verdict parsed
    stderr: float | None  # percent, bootstrap
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
        return WinRate(None, None, len(triples), 0, protocol, per_item)
    mean = sum(parsed) / len(parsed)
    rng = random.Random(seed)
    means = []
    for _ in range(bootstrap):
        sample = [parsed[rng.randrange(len(parsed))] for _ in parsed]
        means.append(sum(sample) / len(sample))
    mu = sum(means) / len(means)
    se = (sum((m - mu) ** 2 for m in means) / max(1, len(means) - 1)) ** 0.5
    return WinRate(100 * mean, 100 * se, len(triples), len(parsed), protocol, per_item)


def length_adjusted(outcomes: list[float | None], new_lengths: list[int], base_lengths: list[int],
                      bootstrap: int = 200, seed: int = 0) -> tuple[float | None, float | None]:
    """Length-adjusted win rate (percent) and its bootstrap standard error.

    Not AlpacaEval 2's length-controlled win rate: its GLM (alpaca_eval ``metrics/glm_winrate.py``) also
    fits each instruction's difficulty across many models and regularises toward known baselines, which
    one model pair cannot do; the name says so, so the two are never confused.

    AlpacaEval 2's idea with one model pair: a logistic model of the outcome (soft labels in [0, 1]) on
    an intercept and tanh(length difference / its standard deviation); the LC win rate is the predicted
    outcome at equal lengths, sigmoid(intercept). A judge that prefers longer answers inflates the raw
    win rate of a verbose model; this does not.
    """
    import numpy as np

    rows = [(o, n - b) for o, n, b in zip(outcomes, new_lengths, base_lengths) if o is not None]
    if len(rows) < 2:
        return None, None
    y = np.array([o for o, _ in rows], dtype=float)
    d = np.array([x for _, x in rows], dtype=float)
    scale = d.std() or 1.0
    x = np.tanh(d / scale)

    def fit(yy: np.ndarray, xx: np.ndarray) -> float:
        features = np.stack([np.ones_like(xx), xx], 1)
        w = np.zeros(2)
        for _ in range(50):  # Newton steps on the (ridge-stabilised) cross-entropy
            p = 1 / (1 + np.exp(-features @ w))
            grad = features.T @ (p - yy) + 1e-3 * w
            hess = features.T @ (features * (p * (1 - p))[:, None]) + 1e-3 * np.eye(2)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-10:
                break
        return float(1 / (1 + np.exp(-w[0])))

    value = fit(y, x)
    rng = np.random.default_rng(seed)
    boots = [fit(y[idx], x[idx]) for idx in (rng.integers(0, len(y), len(y)) for _ in range(bootstrap))]
    return 100 * value, 100 * float(np.std(boots, ddof=1))
