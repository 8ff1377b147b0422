"""``report``: one self-contained HTML page per suite (``<out>/<suite>/report.html``), built from the store.

The page holds the leaderboard with rank ranges; per task the scores with their 95% intervals and the
paired difference to ``base``; cost against average score with the Pareto front; the gamma curves
``ar-map-auto`` chose from (reward accuracy against gamma, and the task score where one was measured);
the VRPO ablation's variances against the budget when ``reproduce vrpo-ablation`` wrote them; and every
cell's config and provenance. Plots are inline SVG (matplotlib), styles inline: the file opens offline
and can be mailed as it is. Every number on it is read from the result store.
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path

from benchmark.core.store import ResultStore, atomic_write_text
from benchmark.harness.leaderboard import build_leaderboard, tasks_of

log = logging.getLogger(__name__)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left} .sig{font-weight:600;color:#0a5} .neg{color:#b00}
.note{color:#555;font-size:13px;max-width:1000px} details{margin:4px 0}
pre{font-size:12px;background:#f8f8f8;padding:8px}
figure{margin:8px 0} figcaption{color:#555;font-size:13px}
"""


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # a name like "$x$" is text, not mathtext to parse (or fail)
    import matplotlib.pyplot as plt

    return plt


def _num(v, fmt="{:.1f}") -> str:
    return "n/a" if v is None or v != v else fmt.format(v)


def leaderboard_table(board) -> str:
    tasks = [*tasks_of(board), "average"]
    head = ["rank", "family", "method", *tasks, "Δ avg vs base", "p", "align s", "align ktok"]
    rows = ["<tr>" + "".join(f'<th class="{"l" if i < 3 else ""}">{html.escape(h)}</th>' for i, h in
                             enumerate(head)) + "</tr>"]
    for _, r in board.iterrows():
        cells = [f'<td class="l" data-col="rank">{html.escape(str(r["rank"]))}</td>',
                 f'<td class="l" data-col="family">{html.escape(str(r["family"]))}</td>',
                 f'<td class="l" data-col="method">{html.escape(str(r["method"]))}</td>']
        for t in tasks:
            cells.append(f'<td data-col="{html.escape(t)}" data-value="{r[t]}">{_num(r[t])} '
                         f'<small>[{_num(r[f"{t}_lo"])}, {_num(r[f"{t}_hi"])}]</small></td>')
        d, p = r.get("average_vs_base"), r.get("average_vs_base_p")
        cls = "" if d != d or p != p else ("sig" if p < 0.05 and d > 0 else "neg" if p < 0.05 else "")
        cells.append(f'<td class="{cls}" data-col="average_vs_base">{_num(d, "{:+.1f}")}</td>')
        cells.append(f'<td data-col="average_vs_base_p">{_num(p, "{:.3f}")}</td>')
        cells.append(f'<td data-col="align_s">{_num(r["align_s"])}</td>')
        cells.append(f'<td data-col="align_tokens">{_num(r["align_tokens"] / 1000, "{:.0f}")}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table id="leaderboard">' + "".join(rows) + "</table>"


def scores_figure(board) -> str:
    plt = _plt()
    tasks = [*tasks_of(board), "average"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.2 * len(tasks), 5.6), squeeze=False)
    labels = [f"{f}/{m}" if board["family"].nunique() > 1 else m for f, m in zip(board["family"], board["method"])]
    y = list(range(len(board)))[::-1]
    for j, t in enumerate(tasks):
        ax = axes[0][j]
        mean, lo, hi = board[t], board[f"{t}_lo"], board[f"{t}_hi"]
        ax.errorbar(mean, y, xerr=[(mean - lo).clip(lower=0), (hi - mean).clip(lower=0)], fmt="o", capsize=3)
        ax.set_yticks(y, labels if j == 0 else [""] * len(y))
        ax.set_title(f"{t} (%)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax = axes[1][j]
        d, dlo, dhi = board[f"{t}_vs_base"], board[f"{t}_vs_base_lo"], board[f"{t}_vs_base_hi"]
        ok = d.notna()
        ax.axvline(0, color="gray", lw=1)
        ax.errorbar(d[ok], [y[i] for i in range(len(y)) if ok.iloc[i]], xerr=[(d - dlo)[ok].clip(lower=0),
                    (dhi - d)[ok].clip(lower=0)], fmt="s", color="tab:green", capsize=3)
        ax.set_yticks(y, labels if j == 0 else [""] * len(y))
        ax.set_title(f"{t}: Δ vs base", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def pareto_figure(board) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    cost = board["align_s"].clip(lower=1e-2)
    ax.errorbar(cost, board["average"], yerr=[(board["average"] - board["average_lo"]).clip(lower=0),
                                              (board["average_hi"] - board["average"]).clip(lower=0)], fmt="o",
                capsize=3)
    for c, a, m in zip(cost, board["average"], board["method"]):
        ax.annotate(m, (c, a), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front, best = [], -math.inf
    for c, a in sorted(zip(cost, board["average"])):
        if a > best:
            front.append((c, a))
            best = a
    ax.step([c for c, _ in front], [a for _, a in front], where="post", color="tab:orange", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("alignment wall seconds per cell (log)")
    ax.set_ylabel("average score (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def gamma_figure(records) -> str | None:
    curves = [(r["cell"], r["info"]) for r in records if isinstance(r.get("info"), dict)
              and r["info"].get("gamma_curve")]
    if not curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    scored = False
    for cell, info in curves:
        pts = sorted(info["gamma_curve"], key=lambda p: p["gamma"])
        line = ax.plot([p["gamma"] for p in pts], [100 * p["reward_accuracy"] for p in pts], marker=".",
                       label=f"{cell['task']}/seed{cell['seed']}")[0]
        if info.get("gamma") is not None:
            ax.axvline(info["gamma"], color=line.get_color(), ls=":", lw=1)
        if any(p.get("task_score") is not None for p in pts):
            scored = True
            ax.plot([p["gamma"] for p in pts], [p.get("task_score") for p in pts], ls="--", color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_xlabel("gamma (dotted: selected)")
    ax.set_ylabel("reward accuracy (%)" + (" / task score (dashed)" if scored else ""))
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def vrpo_figure(csv: Path) -> str | None:
    if not csv.is_file():
        return None
    import pandas as pd

    table = pd.read_csv(csv)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    table["budget"] = table["n_t"] * table["n_yt"]
    for ax, what in zip(axes, ("var_score", "var_loss", "var_grad")):
        for anti, marker in ((True, "o"), (False, "x")):
            part = table[table["antithetic"] == anti]
            ax.scatter(part["budget"], part[what], marker=marker, label=f"ours{'' if anti else ', no antithetic'}")
            ax.scatter(part["budget"], part[f"paper_{what}"], marker=marker, color="gray", alpha=0.6,
                       label=f"LLaDA 1.5{'' if anti else ', no antithetic'}")
        for _, r in table.iterrows():
            ax.annotate(f"({r.n_t},{r.n_yt})", (r.budget, r[what]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("budget n = n_t x n_yt")
        ax.set_title(what, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def provenance(records) -> str:
    machines = {}
    for r in records:
        hw = r.get("hardware") or {}
        key = json.dumps({"cpu": hw.get("cpu"), "torch": hw.get("torch"), "versions": r.get("versions"),
                          "git": r.get("git_revision")}, sort_keys=True)
        machines.setdefault(key, 0)
        machines[key] += 1
    parts = [f"<p>{len(records)} cells, on {len(machines)} distinct machine/version setting(s):</p>"]
    for key, n in machines.items():
        parts.append(f"<details><summary>{n} cell(s)</summary><pre>{html.escape(json.dumps(json.loads(key), indent=1))}"
                     "</pre></details>")
    parts.append("<details><summary>every cell's config</summary>")
    for r in records:
        c = r["cell"]
        parts.append(f"<details><summary>{html.escape(c['family'])}/{html.escape(c['method'])}/"
                     f"{html.escape(c['task'])}/seed{c['seed']} (config {r.get('config_hash', '?')}, "
                     f"{html.escape(str(r.get('created', '')))})</summary><pre>"
                     f"{html.escape(json.dumps(r.get('config', {}), indent=1, default=str))}</pre></details>")
    parts.append("</details>")
    return "\n".join(parts)


def write_report(store_root: Path) -> Path | None:
    """Write ``store_root/report.html``; None when the store holds no results."""
    store_root = Path(store_root)
    board = build_leaderboard(store_root)
    if board.empty:
        return None
    records = [rec for _, rec in ResultStore(store_root).records()]
    sections = [f"<h1>{html.escape(store_root.name)}: leaderboard</h1>",
                f'<p class="note">Built {datetime.now(UTC).isoformat(timespec="seconds")} from {len(records)} cells '
                f"in {html.escape(str(store_root))}. Scores in percent, mean over seeds [95% interval]; rank is a "
                "range when intervals overlap (Chatbot Arena's rule); Δ is the paired difference to base on the "
                "same prompts, p from the paired bootstrap.</p>",
                leaderboard_table(board),
                "<h2>Scores and paired differences to base</h2>",
                f"<figure>{scores_figure(board)}<figcaption>Top: each method's score with its 95% interval (bootstrap "
                "over seeds and prompts). Bottom: paired difference to base with its interval; a bar clear of 0 "
                "is a difference the eval set can tell.</figcaption></figure>",
                "<h2>Cost against score</h2>",
                f"<figure>{pareto_figure(board)}<figcaption>Mean alignment wall seconds per cell (AR-MAP includes "
                "its teacher's training) against the average score; the orange steps are the Pareto front."
                "</figcaption></figure>"]
    gamma = gamma_figure(records)
    if gamma:
        sections += ["<h2>AR-MAP gamma selection</h2>",
                     f"<figure>{gamma}<figcaption>Reward accuracy (ELBO implicit reward on held-out pairs) of the "
                     "merged DLLM against gamma, per cell; dotted: the gamma ar-map-auto kept.</figcaption></figure>"]
    vrpo = vrpo_figure(store_root.parent / "vrpo-ablation.csv")
    if vrpo:
        sections += ["<h2>VRPO ablation (LLaDA 1.5, Table 2)</h2>",
                     f"<figure>{vrpo}<figcaption>Estimator variances against the budget, ours (colour) beside the "
                     "published ones (grey).</figcaption></figure>"]
    sections += ["<h2>Runs: config and provenance</h2>", provenance(records)]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(store_root.name)} report"
            f"</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")
    path = store_root / "report.html"
    atomic_write_text(path, page)
    return path
