"""The leaderboard, computed only from stored result records (pandas).

One row per (family, method); per task the mean main metric over seeds and ``<task>_ci95`` (half-width
of a Student-t 95% interval over seeds), the mean win rate against the base model (``<task>_win``),
``average`` (mean over tasks, the paper's headline), its CI over seeds, cost columns, and ``rank``.
Written as ``leaderboard.md``, ``.csv`` and ``.json`` beside the cells.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmark.core.store import ResultStore, atomic_write_text


def _ci95(values) -> float:
    from scipy import stats

    values = [v for v in values if v == v]
    n = len(values)
    if n < 2:
        return float("nan")
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))


def collect(store_root: Path):
    """One row per stored cell: family, method, task, seed, score (main metric), win, cost."""
    import pandas as pd

    rows = []
    for _, rec in ResultStore(store_root).records():
        cell, metrics = rec["cell"], rec["metrics"]
        main = rec["main_metric"]
        rows.append({
            "family": cell["family"], "method": cell["method"], "task": cell["task"], "seed": cell["seed"],
            "score": metrics[main]["value"], "win": metrics.get("win_rate", {}).get("value", float("nan")),
            "align_s": rec["cost"]["align"]["wall_s"], "align_forwards": rec["cost"]["align"]["forward_passes"],
            "align_tokens": rec["cost"]["align"].get("tokens", 0),
        })
    return pd.DataFrame(rows, columns=["family", "method", "task", "seed", "score", "win", "align_s",
                                       "align_forwards", "align_tokens"])


def build_leaderboard(store_root: Path):
    import pandas as pd

    cells = collect(store_root)
    if cells.empty:
        return pd.DataFrame()
    tasks = sorted(cells["task"].unique())
    out = []
    for (family, method), group in cells.groupby(["family", "method"], sort=True):
        row = {"family": family, "method": method}
        for task in tasks:
            g = group[group["task"] == task]
            row[task] = g["score"].mean() if len(g) else float("nan")
            row[f"{task}_ci95"] = _ci95(g["score"].tolist())
            row[f"{task}_win"] = g["win"].mean() if len(g) else float("nan")
        per_seed = group.pivot_table(index="seed", columns="task", values="score")
        complete = per_seed.dropna() if len(per_seed.columns) == len(tasks) else per_seed.iloc[0:0]
        row["average"] = float(sum(row[t] for t in tasks) / len(tasks))
        row["average_ci95"] = _ci95(complete.mean(axis=1).tolist())
        row["seeds"] = int(group["seed"].nunique())
        row["align_s"] = group["align_s"].mean()
        row["align_forwards"] = group["align_forwards"].mean()
        row["align_tokens"] = group["align_tokens"].mean()
        out.append(row)
    board = pd.DataFrame(out)
    board["rank"] = board.groupby("family")["average"].rank(ascending=False, method="min").astype("Int64")
    return board.sort_values(["family", "rank", "method"]).reset_index(drop=True)


def to_markdown(board) -> str:
    """Score ± CI per task, average, win rates and cost, as a Markdown table."""
    if board.empty:
        return "(no results yet)\n"
    tasks = [c for c in board.columns if f"{c}_ci95" in board.columns and c != "average"]
    fmt = lambda v, ci: "n/a" if v != v else (f"{v:.1f}" if ci != ci else f"{v:.1f} ± {ci:.1f}")  # noqa: E731
    header = ["rank", "family", "method", *tasks, "average", *[f"{t} win" for t in tasks],
              "align s", "align fwd", "align ktok"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in board.iterrows():
        cells = [str(r["rank"]), r["family"], r["method"], *[fmt(r[t], r[f"{t}_ci95"]) for t in tasks],
                 fmt(r["average"], r["average_ci95"]), *[fmt(r[f"{t}_win"], float("nan")) for t in tasks],
                 f"{r['align_s']:.1f}", f"{r['align_forwards']:.0f}", f"{r['align_tokens'] / 1000:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nScores in percent: mean over seeds ± half-width of the 95% Student-t interval. "
            "Win rate: against the base DLLM's answers on the same prompts, judged by the task's verifier, "
            "ties count 1/2. Cost per cell (mean): alignment wall seconds, model forward calls and thousands of "
            "tokens through the model (an ELBO budget of n runs n masked copies in one call; AR-MAP includes "
            "its teacher's training).\n")
    return "\n".join(lines) + "\n" + note


def write_leaderboard(store_root: Path):
    board = build_leaderboard(Path(store_root))
    store_root = Path(store_root)
    atomic_write_text(store_root / "leaderboard.md", to_markdown(board))
    atomic_write_text(store_root / "leaderboard.csv", board.to_csv(index=False))
    atomic_write_text(store_root / "leaderboard.json",
                      json.dumps(json.loads(board.to_json(orient="records")), indent=2))
    return board
