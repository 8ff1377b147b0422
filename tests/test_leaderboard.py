"""The leaderboard computed from hand-made result files."""

import json

import pytest

from benchmark.harness.leaderboard import build_leaderboard, write_leaderboard

T_975_2DF = 4.302652729911275  # Student t quantile, 2 degrees of freedom


def write_cell(root, method, task, seed, score, win=None):
    metrics = {"score": {"value": score, "stderr": 1.0}, "other": {"value": -1.0, "stderr": 0.0}}
    if win is not None:
        metrics["win_rate"] = {"value": win, "stderr": 1.0}
    path = root / "cells" / "fam" / method / task / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "cell": {"suite": "s", "family": "fam", "method": method, "task": task, "seed": seed},
        "metrics": metrics, "main_metric": "score",
        "cost": {"align": {"wall_s": 2.0 * seed, "forward_passes": 10, "tokens": 1000}, "eval": {}},
    }, sort_keys=True))


@pytest.fixture()
def store(tmp_path):
    for seed, (a, b) in enumerate([(10, 50), (20, 60), (30, 70)]):
        write_cell(tmp_path, "good", "t1", seed, a + 40, win=75)
        write_cell(tmp_path, "good", "t2", seed, b, win=50)
        write_cell(tmp_path, "base", "t1", seed, a)
        write_cell(tmp_path, "base", "t2", seed, b)
    return tmp_path


def test_means_ci_average_rank(store):
    board = build_leaderboard(store).set_index("method")
    assert board.loc["base", "t1"] == pytest.approx(20.0)
    assert board.loc["good", "t1"] == pytest.approx(60.0)
    assert board.loc["base", "t1_ci95"] == pytest.approx(T_975_2DF * 10 / 3 ** 0.5)
    assert board.loc["base", "t2"] == pytest.approx(60.0)
    assert board.loc["base", "average"] == pytest.approx(40.0)
    assert board.loc["good", "average"] == pytest.approx(60.0)
    # per-seed averages of base: 30, 40, 50 -> sd 10
    assert board.loc["base", "average_ci95"] == pytest.approx(T_975_2DF * 10 / 3 ** 0.5)
    # without per-prompt samples the intervals are Student-t over seeds; they overlap, so both share 1-2
    assert board.loc["good", "rank"] == "1-2" and board.loc["base", "rank"] == "1-2"
    assert not board["paired_statistics"].any()
    assert board.loc["good", "t1_win"] == pytest.approx(75.0)
    assert board.loc["good", "align_s"] == pytest.approx(2.0)


def test_the_main_metric_is_used_not_the_first_key(store):
    board = build_leaderboard(store).set_index("method")
    assert -1.0 not in board["t1"].tolist()


def test_one_seed_has_no_ci(tmp_path):
    write_cell(tmp_path, "base", "t1", 0, 10.0)
    board = build_leaderboard(tmp_path)
    assert board.loc[0, "t1"] == 10.0
    assert board.loc[0, "t1_ci95"] != board.loc[0, "t1_ci95"]  # NaN


def test_files_written(store):
    write_leaderboard(store)
    md = (store / "leaderboard.md").read_text()
    assert "| 1-2 | fam | good | 60.0 [35.2, 84.8] |" in md and "Student-t over seeds" in md
    rows = json.loads((store / "leaderboard.json").read_text())
    assert [r["method"] for r in rows] == ["good", "base"]
    assert (store / "leaderboard.csv").read_text().startswith("family,method,t1,t1_win,t1_lo,t1_hi,t1_ci95")


def test_unreadable_file_is_skipped_not_fatal(store):
    (store / "cells" / "fam" / "base" / "t1" / "seed9.json").write_text("{ truncated")
    board = build_leaderboard(store).set_index("method")
    assert board.loc["base", "t1"] == pytest.approx(20.0)
