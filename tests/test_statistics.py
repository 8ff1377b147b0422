"""The leaderboard's paired statistics, checked against hand computations on hand-made cells."""

import json

import numpy as np
import pytest

from benchmark.core.store import CellKey, ResultStore
from benchmark.harness.leaderboard import build_leaderboard, to_markdown
from benchmark.harness.statistics import Interval, TaskItems, group_statistics, rank_ranges


def write(root, method, task, seed, item_scores, prompts=None):
    """A cell whose samples hold one 0/1 score per prompt (the record's value is their mean, in percent)."""
    prompts = prompts or [f"q{i}" for i in range(len(item_scores))]
    store = ResultStore(root)
    key = CellKey("s", "fam", method, task, seed)
    value = 100 * sum(item_scores) / len(item_scores)
    store.write(key, {"cell": key.__dict__, "metrics": {"score": {"value": value, "stderr": 0.0}},
                      "main_metric": "score", "cost": {"align": {"wall_s": 0, "forward_passes": 0, "tokens": 0}}},
                [{"prompt": p, "response": "", "scores": {"score": s}} for p, s in zip(prompts, item_scores)])


def test_rank_rule_by_hand():
    ranks = rank_ranges({"a": Interval(15, 10, 20), "b": Interval(20, 15, 25), "c": Interval(35, 30, 40),
                         "d": Interval(5, 0, 9)})
    # c is above everyone; a and b overlap each other, both below c, both above d (d.hi 9 < 10 and < 15)
    assert ranks == {"c": (1, 1), "b": (2, 3), "a": (2, 3), "d": (4, 4)}


def test_bootstrap_of_two_prompts_one_seed_by_hand():
    """Items (0, 100): a resample's mean is 0, 50 or 100 with probability 1/4, 1/2, 1/4."""
    items = TaskItems([0], {"m": np.array([[0.0, 100.0]])})
    stats = group_statistics({"t": items}, resamples=4000)
    iv = stats.intervals["m"]["t"]
    assert (iv.mean, iv.lo, iv.hi) == (50.0, 0.0, 100.0)


def test_seeds_are_resampled_not_only_prompts():
    """Seed 0 scores 0 on every prompt, seed 1 scores 100: only resampling seeds gives [0, 100]."""
    items = TaskItems([0, 1], {"m": np.array([[0.0] * 50, [100.0] * 50])})
    iv = group_statistics({"t": items}, resamples=4000).intervals["m"]["t"]
    assert (iv.lo, iv.hi) == (0.0, 100.0)
    # a prompts-only bootstrap would give a zero-width interval: every prompt of a seed scores the same


def test_paired_difference_and_bootstrap_p_by_hand():
    """m beats base on every one of 10 prompts: the difference is exactly +100 and no resample reaches 0."""
    base = np.zeros((1, 10))
    stats = group_statistics({"t": TaskItems([0], {"base": base, "m": base + 100})}, resamples=20000)
    d = stats.differences["base"]["m"]["t"]
    assert (d.mean, d.lo, d.hi) == (100.0, 100.0, 100.0)
    assert d.p == pytest.approx(2 / 20001)
    same = group_statistics({"t": TaskItems([0], {"base": base + 50, "m": base + 50})})
    assert same.differences["base"]["m"]["t"].p == 1.0
    # one seed, two prompts, m better on one: resampled differences are 0, 50, 100 with 1/4, 1/2, 1/4,
    # so P(diff <= 0) = 1/4 and p = 2 x 1/4 = 0.5
    half = group_statistics({"t": TaskItems([0], {"base": np.array([[0.0, 0.0]]), "m": np.array([[100.0, 0.0]])})},
                            resamples=40000)
    assert half.differences["base"]["m"]["t"].p == pytest.approx(0.5, abs=0.02)


def test_a_method_whose_seeds_disagree_is_not_significant_on_many_prompts():
    """Seed 0 much better, seed 1 much worse: hundreds of prompts must not make the difference significant."""
    base = np.full((2, 400), 50.0)
    m = np.stack([np.full(400, 90.0), np.full(400, 20.0)])
    d = group_statistics({"t": TaskItems([0, 1], {"base": base, "m": m})}).differences["base"]["m"]["t"]
    assert d.lo < 0 < d.hi and d.p > 0.05


def test_leaderboard_from_cells_with_samples(tmp_path):
    rng = np.random.default_rng(1)
    for seed in range(3):
        prompts = [f"s{seed}-q{i}" for i in range(200)]
        base = (rng.random(200) < 0.5).astype(int).tolist()
        good = [1 if (b or rng.random() < 0.4) else 0 for b in base]  # base's wins plus more
        same = list(base)
        for task in ("t1", "t2"):
            write(tmp_path, "base", task, seed, base, prompts)
            write(tmp_path, "good", task, seed, good, list(reversed(prompts)) and prompts)
            write(tmp_path, "same", task, seed, same[::-1], prompts[::-1])  # same scores, another order
    board = build_leaderboard(tmp_path).set_index("method")
    assert board["paired_statistics"].all()
    assert board.loc["good", "rank"] == "1" and board.loc["base", "rank"] == board.loc["same", "rank"] == "2-3"
    assert board.loc["same", "average_vs_base"] == 0.0 and board.loc["same", "average_vs_base_p"] == 1.0
    assert board.loc["good", "average_vs_base"] > 10 and board.loc["good", "average_vs_base_p"] < 0.001
    assert board.loc["good", "t1_lo"] < board.loc["good", "t1"] < board.loc["good", "t1_hi"]
    md = to_markdown(board.reset_index())  # "same" has the same scores: p = 1
    assert "p=1.000" in md and "Paired differences to base" in md and "| 2-3 |" in md


def test_the_board_is_the_same_every_time(tmp_path):
    for seed in range(2):
        write(tmp_path, "base", "t", seed, [0, 1, 1, 0, 1])
        write(tmp_path, "m", "t", seed, [1, 1, 1, 0, 1])
    first = build_leaderboard(tmp_path).to_json()
    assert build_leaderboard(tmp_path).to_json() == first
    assert json.loads(first)
