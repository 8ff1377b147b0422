"""Paired statistics for the leaderboard, from the per-prompt scores in the cells' samples files.

Every method of a suite is evaluated on the same prompts of each (task, seed), so methods are compared
paired:

- **Interval** (95%): a two-level bootstrap. Each resample draws the seeds with replacement and, within
  each drawn seed, the prompts with replacement; a method's score is the mean over the drawn items. So
  the interval holds both the training noise (seeds) and the finite eval set (prompts). The same draws
  are used for every method of the group and for every task of a resample, so the ``average`` interval
  and the differences come from the same resampling.
- **Paired difference** to a reference method (``base``, ``ar-map``): the mean of per-item differences,
  its interval from the same bootstrap, and a two-sided paired-bootstrap p-value, ``2 x`` the share of
  resampled differences on the far side of 0 (smoothed, ``(k + 1) / (B + 1)``). It resamples seeds as
  well as prompts, so a method whose seeds disagree (one bad training run) is not called significant
  on the strength of many prompts; the p-value and the interval always agree (p < 0.05 exactly when
  the interval excludes 0, up to resampling granularity).
- **Rank ranges** (Chatbot Arena's rule): a method's best rank is 1 + the number of methods whose lower
  bound is above its upper bound; its worst rank is the number of methods whose upper bound is not below
  its lower bound. Overlapping intervals give ranges such as ``1-3``.

Resampling is seeded, so a leaderboard is the same every time it is rebuilt from the same cells.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)
RESAMPLES = 2000
REFERENCES = ("base", "ar-map", "ar-base")
# AR-MAP's question: how much of the AR teacher's gain (ar-dpo - ar-base) does a merged DLLM carry over
# base? Rows named ar-map* get a transfer ratio when the suite has these three rows.
TEACHER, TEACHER_BASE, STUDENT_BASE, TRANSFER_PREFIX = "ar-dpo", "ar-base", "base", "ar-map"


@dataclass
class TaskItems:
    """Per-prompt main-metric scores (percent) of every method on one (family, task): [seeds, prompts]."""

    seeds: list[int]
    scores: dict[str, np.ndarray]  # method -> [S, N], prompts in the same order for every method


@dataclass
class Interval:
    mean: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


@dataclass
class Difference:
    mean: float
    lo: float
    hi: float
    p: float


@dataclass
class Transfer:
    """(method - base) / (ar-dpo - ar-base) with a bootstrap interval; NaN (``defined`` False) when the
    teacher's gain is not above 0 at 95% (its interval reaches 0): a ratio over nothing measures nothing.
    On ``average`` both gains are averaged over the tasks where the teacher gained, and only those."""

    mean: float
    lo: float
    hi: float
    defined: bool


@dataclass
class GroupStats:
    """Statistics of one family: per method, per task (and ``average``)."""

    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)
    differences: dict[str, dict[str, dict[str, Difference]]] = field(default_factory=dict)  # ref -> method -> task
    ranks: dict[str, tuple[int, int]] = field(default_factory=dict)
    transfer: dict[str, dict[str, Transfer]] = field(default_factory=dict)  # ar-map* method -> task


def align_items(samples_by_method: dict[str, dict[int, list[dict]]], main: dict[str, str]) -> TaskItems | None:
    """[S, N] score arrays over the seeds every method has, prompts ordered as the first method's.

    ``samples_by_method[method][seed]`` is a cell's samples; ``main[method]`` its main metric. Returns None
    when the cells hold no per-item scores (e.g. lm-eval cells) or the prompt sets differ.
    """
    common = sorted(set.intersection(*(set(s) for s in samples_by_method.values())))
    if not common:
        return None
    scores: dict[str, np.ndarray] = {}
    order: dict[int, list[str]] = {}
    for method, by_seed in samples_by_method.items():
        rows = []
        for seed in common:
            items = by_seed[seed]
            if not items or not all(isinstance(s.get("scores"), dict) and main[method] in s["scores"]
                                    and isinstance(s.get("prompt"), str) for s in items):
                return None
            prompts = [s["prompt"] for s in items]
            if seed not in order:
                order[seed] = prompts
            if sorted(prompts) != sorted(order[seed]) or len(set(prompts)) != len(prompts):
                log.warning("%s seed %d: prompts differ from the other methods'; no paired statistics", method, seed)
                return None
            by_prompt = {s["prompt"]: 100.0 * float(s["scores"][main[method]]) for s in items}
            rows.append([by_prompt[p] for p in order[seed]])
        if len({len(r) for r in rows}) != 1:
            return None
        scores[method] = np.asarray(rows, dtype=float)
    if len({a.shape[1] for a in scores.values()}) != 1:
        return None
    return TaskItems(common, scores)


def _draws(n_seeds: int, n_items: int, rng: np.random.Generator, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    items = rng.integers(0, n_items, size=(resamples, n_seeds, n_items))
    return seeds, items


def _resampled_means(x: np.ndarray, seeds: np.ndarray, items: np.ndarray) -> np.ndarray:
    """x [S, N] -> [B] means over the drawn (seed, prompt) items."""
    return x[seeds[:, :, None], items].mean(axis=(1, 2))


def bootstrap_p(diffs: np.ndarray) -> float:
    """Two-sided p-value of "the difference is 0" from its paired bootstrap distribution."""
    below, above = int(np.sum(diffs <= 0)), int(np.sum(diffs >= 0))
    if below == len(diffs) and above == len(diffs):  # identical on every resample
        return 1.0
    return float(min(1.0, 2 * (min(below, above) + 1) / (len(diffs) + 1)))


def rank_ranges(intervals: dict[str, Interval]) -> dict[str, tuple[int, int]]:
    """(best, worst) rank per method by Chatbot Arena's rule on 95% intervals (higher is better)."""
    out = {}
    for m, iv in intervals.items():
        better = sum(1 for o, jv in intervals.items() if o != m and jv.lo > iv.hi)
        not_worse = sum(1 for o, jv in intervals.items() if o != m and jv.hi >= iv.lo)
        out[m] = (1 + better, 1 + not_worse)
    return out


def group_statistics(tasks: dict[str, TaskItems], resamples: int = RESAMPLES, seed: int = 0) -> GroupStats:
    """Intervals, paired differences and rank ranges for the methods of one family over ``tasks``."""
    rng = np.random.default_rng(seed)
    stats = GroupStats()
    methods = sorted(set.intersection(*(set(t.scores) for t in tasks.values()))) if tasks else []
    boot: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
    for name, items in sorted(tasks.items()):
        n_seeds, n_items = next(iter(items.scores.values())).shape
        seeds, draws = _draws(n_seeds, n_items, rng, resamples)
        for m in methods:
            boot[m][name] = _resampled_means(items.scores[m], seeds, draws)
    for m in methods:
        stats.intervals[m] = {}
        for name in tasks:
            b = boot[m][name]
            stats.intervals[m][name] = Interval(float(tasks[name].scores[m].mean()), *np.percentile(b, [2.5, 97.5]))
        avg = np.mean([boot[m][name] for name in tasks], axis=0)
        stats.intervals[m]["average"] = Interval(float(np.mean([tasks[n].scores[m].mean() for n in tasks])),
                                                 *np.percentile(avg, [2.5, 97.5]))
    for ref in REFERENCES:
        if ref not in methods:
            continue
        stats.differences[ref] = {}
        for m in methods:
            if m == ref:
                continue
            per_task = {}
            for name in tasks:
                d = tasks[name].scores[m] - tasks[name].scores[ref]
                diff = boot[m][name] - boot[ref][name]
                per_task[name] = Difference(float(d.mean()), *np.percentile(diff, [2.5, 97.5]), bootstrap_p(diff))
            diffs = [tasks[n].scores[m] - tasks[n].scores[ref] for n in tasks]
            avg = np.mean([boot[m][n] - boot[ref][n] for n in tasks], axis=0)
            per_task["average"] = Difference(float(np.mean([d.mean() for d in diffs])),
                                             *np.percentile(avg, [2.5, 97.5]), bootstrap_p(avg))
            stats.differences[ref][m] = per_task
    stats.ranks = rank_ranges({m: iv["average"] for m, iv in stats.intervals.items()})
    if {TEACHER, TEACHER_BASE, STUDENT_BASE} <= set(methods):
        stats.transfer = _transfer(tasks, boot, [m for m in methods if m.startswith(TRANSFER_PREFIX)])
    return stats


def _transfer(tasks: dict[str, TaskItems], boot: dict, merged: list[str]) -> dict[str, dict[str, Transfer]]:
    """Per AR-MAP row and task: (row - base) / (ar-dpo - ar-base), the point from the means and the interval
    from the same resamples. ``average`` is taken over the tasks where the teacher gained (a task where it
    gained nothing would add the row's gain to the numerator and nothing to the denominator)."""
    def gain(m: str, ref: str, names: list[str]) -> float:
        return float(np.mean([tasks[n].scores[m].mean() - tasks[n].scores[ref].mean() for n in names]))

    def draws(m: str, ref: str, names: list[str]) -> np.ndarray:
        return np.mean([boot[m][n] - boot[ref][n] for n in names], axis=0)

    gained = [n for n in tasks if np.percentile(draws(TEACHER, TEACHER_BASE, [n]), 2.5) > 0
              and gain(TEACHER, TEACHER_BASE, [n]) > 0]
    undefined = Transfer(float("nan"), float("nan"), float("nan"), False)
    out: dict[str, dict[str, Transfer]] = {}
    for m in merged:
        out[m] = {}
        for name, names in [*((n, [n]) for n in tasks), ("average", gained)]:
            if not names or not set(names) <= set(gained):
                out[m][name] = undefined
                continue
            teacher = draws(TEACHER, TEACHER_BASE, names)
            lo, hi = np.nanpercentile(draws(m, STUDENT_BASE, names) / np.where(teacher > 0, teacher, np.nan),
                                      [2.5, 97.5])
            out[m][name] = Transfer(gain(m, STUDENT_BASE, names) / gain(TEACHER, TEACHER_BASE, names), float(lo),
                                    float(hi), True)
    return out
