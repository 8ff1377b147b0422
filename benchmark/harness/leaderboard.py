"""The leaderboard, computed only from stored result records and their samples (pandas).

One row per (family, method). Per task: the mean main metric over seeds (``<task>``), its 95% interval
(``<task>_lo``/``_hi``, half-width ``<task>_ci95``) from the paired two-level bootstrap of
``statistics.py`` (seeds, and prompts within seeds), the win rate against the base model
(``<task>_win``), and the paired difference to ``base`` and to ``ar-map`` (``<task>_vs_base``,
``_lo``, ``_hi``, ``_p``). ``average`` (mean over tasks, the paper's headline) has the same columns.
``rank`` is a range by Chatbot Arena's rule on the average's interval (``rank_best``, ``rank_worst``).
Cells without per-prompt scores (lm-eval cells) fall back to a Student-t interval over seeds and no
paired statistics. Written as ``leaderboard.md``, ``.csv`` and ``.json`` beside the cells.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from benchmark.core.store import CellKey, ResultStore, atomic_write_text

log = logging.getLogger(__name__)


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
    """One row per stored cell: family, method, task, seed, score (main metric), win, cost, main metric."""
    import pandas as pd

    rows = []
    for _, rec in ResultStore(store_root).records():
        cell, metrics = rec["cell"], rec["metrics"]
        main = rec["main_metric"]
        value = metrics[main].get("value")
        rows.append({
            "suite": cell.get("suite"), "family": cell["family"], "method": cell["method"], "task": cell["task"],
            "seed": cell["seed"], "score": float("nan") if value is None else value,
            "win": (metrics.get("win_rate", {}).get("value") or float("nan")),
            "align_s": rec["cost"]["align"]["wall_s"], "align_forwards": rec["cost"]["align"]["forward_passes"],
            "align_tokens": rec["cost"]["align"].get("tokens", 0), "main": main,
            "kind": rec.get("model_kind", "dllm"),
        })
    return pd.DataFrame(rows, columns=["suite", "family", "method", "task", "seed", "score", "win", "align_s",
                                       "align_forwards", "align_tokens", "main", "kind"])


def _paired_stats(store: ResultStore, family_cells, tasks: list[str]):
    """GroupStats of one family, or None when some task's cells hold no per-prompt scores."""
    from benchmark.harness.statistics import align_items, group_statistics

    items = {}
    for task in tasks:
        group = family_cells[family_cells["task"] == task]
        samples: dict[str, dict[int, list[dict]]] = {}
        main = {}
        for row in group.itertuples():
            key = CellKey(row.suite, row.family, row.method, row.task, int(row.seed))
            try:
                samples.setdefault(row.method, {})[int(row.seed)] = store.samples(key)
            except Exception as exc:  # a missing or truncated samples file: no paired statistics here
                log.warning("%s: %s; intervals fall back to seeds only", key.label(), exc)
                return None
            main[row.method] = row.main
        aligned = align_items(samples, main) if samples else None
        if aligned is None:
            return None
        items[task] = aligned
    return group_statistics(items)


def build_leaderboard(store_root: Path):
    import pandas as pd

    from benchmark.harness.statistics import REFERENCES, Interval, rank_ranges

    store_root = Path(store_root)
    cells = collect(store_root)
    if cells.empty:
        return pd.DataFrame()
    store = ResultStore(store_root)
    tasks = sorted(cells["task"].unique())
    out = []
    for family, family_cells in cells.groupby("family", sort=True):
        family_tasks = [t for t in tasks if (family_cells["task"] == t).any()]
        stats = _paired_stats(store, family_cells, family_tasks)
        rows = []
        for method, group in family_cells.groupby("method", sort=True):
            row = {"family": family, "method": method}
            for task in tasks:
                g = group[group["task"] == task]
                row[task] = g["score"].mean() if len(g) else float("nan")
                row[f"{task}_win"] = g["win"].mean() if len(g) else float("nan")
                if stats is not None and method in stats.intervals and task in stats.intervals[method]:
                    iv = stats.intervals[method][task]
                    row[f"{task}_lo"], row[f"{task}_hi"], row[f"{task}_ci95"] = iv.lo, iv.hi, iv.half_width
                else:
                    ci = _ci95(g["score"].tolist())
                    row[f"{task}_lo"], row[f"{task}_hi"], row[f"{task}_ci95"] = row[task] - ci, row[task] + ci, ci
            per_seed = group.pivot_table(index="seed", columns="task", values="score")
            complete = per_seed.dropna() if len(per_seed.columns) == len(tasks) else per_seed.iloc[0:0]
            row["average"] = float(sum(row[t] for t in tasks) / len(tasks))
            if stats is not None and method in stats.intervals:
                iv = stats.intervals[method]["average"]
                row["average_lo"], row["average_hi"], row["average_ci95"] = iv.lo, iv.hi, iv.half_width
            else:
                ci = _ci95(complete.mean(axis=1).tolist())
                row["average_lo"], row["average_hi"], row["average_ci95"] = row["average"] - ci, row["average"] + ci, ci
            for ref in REFERENCES:
                diffs = (stats.differences.get(ref, {}).get(method) if stats is not None else None) or {}
                for task in [*tasks, "average"]:
                    d = diffs.get(task)
                    for suffix, value in (("", d and d.mean), ("_lo", d and d.lo), ("_hi", d and d.hi),
                                          ("_p", d and d.p)):
                        row[f"{task}_vs_{ref}{suffix}"] = float("nan") if d is None else value
            for task in [*tasks, "average"]:  # AR-MAP rows: the share of the teacher's gain carried
                tr = (stats.transfer.get(method, {}).get(task) if stats is not None else None)
                row[f"{task}_transfer"], row[f"{task}_transfer_lo"], row[f"{task}_transfer_hi"] = \
                    (tr.mean, tr.lo, tr.hi) if tr is not None else (float("nan"),) * 3
            row["kind"] = group["kind"].iloc[0]
            row["seeds"] = int(group["seed"].nunique())
            row["align_s"] = group["align_s"].mean()
            row["align_forwards"] = group["align_forwards"].mean()
            row["align_tokens"] = group["align_tokens"].mean()
            row["paired_statistics"] = stats is not None
            rows.append(row)
        if stats is not None:
            ranks = stats.ranks
        else:  # no per-prompt scores: the same rule on the seeds-only intervals
            ranks = rank_ranges({r["method"]: Interval(r["average"], r["average_lo"], r["average_hi"]) for r in rows
                                 if r["average"] == r["average"]})
        for r in rows:
            best, worst = ranks.get(r["method"], (0, 0))
            r["rank_best"], r["rank_worst"] = best, worst
            r["rank"] = "n/a" if not best else (f"{best}" if best == worst else f"{best}-{worst}")
        out += rows
    board = pd.DataFrame(out)
    board["_order"] = -board["average"].fillna(-1e9)
    board = board.sort_values(["family", "rank_best", "_order", "method"]).drop(columns="_order")
    return board.reset_index(drop=True)


def _fmt_interval(v, lo, hi) -> str:
    if v != v:
        return "n/a"
    return f"{v:.1f}" if lo != lo or hi != hi else f"{v:.1f} [{lo:.1f}, {hi:.1f}]"


def _fmt_diff(d, lo, hi, p) -> str:
    if d != d:
        return "-"
    stars = "*" if p == p and p < 0.05 else ""
    return f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}] p={p:.3f}{stars}"


def tasks_of(board) -> list[str]:
    return [c for c in board.columns if f"{c}_ci95" in board.columns and c != "average"]


def to_markdown(board) -> str:
    """Rank ranges, scores with intervals, paired differences with p-values, win rates, cost."""
    if board.empty:
        return "(no results yet)\n"
    tasks = tasks_of(board)
    header = ["rank", "family", "method", *tasks, "average", "Δ avg vs base", "Δ avg vs ar-map",
              *[f"{t} win" for t in tasks], "align s", "align fwd", "align ktok"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in board.iterrows():
        cells = [str(r["rank"]), r["family"], r["method"], *[_fmt_interval(r[t], r[f"{t}_lo"], r[f"{t}_hi"])
                                                             for t in tasks],
                 _fmt_interval(r["average"], r["average_lo"], r["average_hi"]),
                 *[_fmt_diff(r[f"average_vs_{ref}"], r[f"average_vs_{ref}_lo"], r[f"average_vs_{ref}_hi"],
                             r[f"average_vs_{ref}_p"]) for ref in ("base", "ar-map")],
                 *[_fmt_interval(r[f"{t}_win"], float("nan"), float("nan")) for t in tasks],
                 f"{r['align_s']:.1f}", f"{r['align_forwards']:.0f}", f"{r['align_tokens'] / 1000:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    diff_header = ["family", "method", *[f"{t} vs base" for t in tasks]]
    diff_lines = ["| " + " | ".join(diff_header) + " |", "|" + "---|" * len(diff_header)]
    for _, r in board.iterrows():
        if r["method"] == "base" or r["average_vs_base"] != r["average_vs_base"]:
            continue
        diff_lines.append("| " + " | ".join([r["family"], r["method"], *[
            _fmt_diff(r[f"{t}_vs_base"], r[f"{t}_vs_base_lo"], r[f"{t}_vs_base_hi"], r[f"{t}_vs_base_p"])
            for t in tasks]]) + " |")
    paired = bool(board["paired_statistics"].all())
    note = ("\nScores in percent: mean over seeds [95% interval]. "
            + ("Intervals: bootstrap over seeds and, within each seed, over prompts (2,000 paired resamples). "
               "Δ: paired difference of the means on the same prompts [95% bootstrap interval], p from the same "
               "paired bootstrap (* p < 0.05). " if paired else
               "Intervals: Student-t over seeds (some cells hold no per-prompt scores). ")
            + "Rank: a range when intervals overlap (1 + methods whose lower bound is above this one's upper "
            "bound, to the number of methods not below it). Win rate: against the base DLLM's answers on the "
            "same prompts, judged by the task's verifier, ties count 1/2. Cost per cell (mean): alignment wall "
            "seconds, model forward calls and thousands of tokens through the model (AR-MAP includes its "
            "teacher's training).\n")
    tables = "\n".join(lines) + "\n"
    if len(diff_lines) > 2:
        tables += "\nPaired differences to base, per task:\n\n" + "\n".join(diff_lines) + "\n"
    return tables + _gains_markdown(board, tasks) + note


def _gains_markdown(board, tasks: list[str]) -> str:
    """Each row's gain over its own starting point (DLLM rows over base, AR rows over ar-base) and, for
    AR-MAP rows, the share of the teacher's gain (ar-dpo - ar-base) they carry: AR-MAP's question."""
    from benchmark.harness.statistics import TEACHER_BASE

    if not (board["method"] == TEACHER_BASE).any():
        return ""
    cols = [*tasks, "average"]
    header = ["family", "method", *[f"{t} gain" for t in cols], *[f"{t} transfer" for t in cols]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in board.iterrows():
        ref = TEACHER_BASE if r["kind"] == "ar" else "base"
        if r["method"] in (ref, "base", TEACHER_BASE) or r[f"average_vs_{ref}"] != r[f"average_vs_{ref}"]:
            continue
        gains = [_fmt_diff(r[f"{t}_vs_{ref}"], r[f"{t}_vs_{ref}_lo"], r[f"{t}_vs_{ref}_hi"], r[f"{t}_vs_{ref}_p"])
                 for t in cols]
        transfers = []
        for t in cols:
            v, lo, hi = r[f"{t}_transfer"], r[f"{t}_transfer_lo"], r[f"{t}_transfer_hi"]
            transfers.append("-" if not r["method"].startswith("ar-map") else
                             "undefined (teacher gained nothing)" if v != v else f"{v:.2f} [{lo:.2f}, {hi:.2f}]")
        lines.append("| " + " | ".join([r["family"], r["method"], *gains, *transfers]) + " |")
    return ("\nGains over each row's own starting point (DLLM rows: minus base; AR rows: minus ar-base, the "
            "teacher's gain) and, for AR-MAP rows, transfer = (row - base) / (ar-dpo - ar-base) with a 95% "
            "bootstrap interval from the same resamples (undefined when the teacher's gain is not above 0 at "
            "95%; on the average, both gains are averaged over the tasks where the teacher gained):\n\n"
            + "\n".join(lines) + "\n")


def write_leaderboard(store_root: Path):
    board = build_leaderboard(Path(store_root))
    store_root = Path(store_root)
    atomic_write_text(store_root / "leaderboard.md", to_markdown(board))
    atomic_write_text(store_root / "leaderboard.csv", board.to_csv(index=False))
    atomic_write_text(store_root / "leaderboard.json",
                      json.dumps(json.loads(board.to_json(orient="records")), indent=2))
    return board
