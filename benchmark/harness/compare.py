"""``compare A B``: do two result folders (two machines, two versions, two thread counts) tell the same story?

Per method and task (and the average): the two scores agree when their 95% intervals overlap; the rank
ranges agree when they overlap; the verdict against ``base`` agrees when both say "significantly better",
both "significantly worse", or both "no significant difference" (p < 0.05). The machines the folders
ran on (CPU, instruction set, threads, library versions) are printed beside the verdicts, since they
are the usual reason two folders differ in the low digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.store import ResultStore
from benchmark.harness.leaderboard import build_leaderboard, tasks_of


def store_root(path: Path, suite: str | None) -> Path:
    """A suite folder (holding ``cells/``), given itself or the ``--out`` folder above it."""
    path = Path(path)
    if (path / "cells").is_dir():
        return path
    if suite and (path / suite / "cells").is_dir():
        return path / suite
    found = sorted(p.parent for p in path.glob("*/cells"))
    if len(found) == 1:
        return found[0]
    raise BenchmarkError(f"{path}: no result folder (cells/) here" + (f" or under {suite}/" if suite else "")
                         + (f"; several suites: {[p.name for p in found]}, pass --suite" if found else ""))


def machine(root: Path) -> dict:
    for _, rec in ResultStore(root).records():
        hw = rec.get("hardware") or {}
        cpu, rt = hw.get("cpu", {}), hw.get("torch", {})
        return {"cpu": cpu.get("model"), "flags": ",".join(cpu.get("flags", [])), "threads": rt.get("threads"),
                "torch": (rec.get("versions") or {}).get("torch"), "onednn": rt.get("onednn_version"),
                "git": rec.get("git_revision")}
    return {}


@dataclass
class Comparison:
    rows: list[dict]
    machines: tuple[dict, dict]

    @property
    def agree(self) -> bool:
        return all(r["scores_agree"] and r["ranks_agree"] and r["verdict_agrees"] for r in self.rows)


def _verdict(row) -> str:
    d, p = row.get("average_vs_base"), row.get("average_vs_base_p")
    if d != d or d is None or p != p or p is None:
        return "n/a"
    return "n.s." if p >= 0.05 else ("better" if d > 0 else "worse")


def compare(a: Path, b: Path, suite: str | None = None) -> Comparison:
    ra, rb = store_root(a, suite), store_root(b, suite)
    ba, bb = build_leaderboard(ra), build_leaderboard(rb)
    if ba.empty or bb.empty:
        raise BenchmarkError(f"{ra if ba.empty else rb}: no results to compare")
    common = [t for t in tasks_of(ba) if t in set(tasks_of(bb))]
    if not common:  # comparing nothing is not agreement
        raise BenchmarkError(f"{ra} and {rb} share no task ({', '.join(tasks_of(ba))} vs {', '.join(tasks_of(bb))}): "
                             "nothing to compare")
    tasks = common + ["average"]
    ia, ib = ba.set_index(["family", "method"]), bb.set_index(["family", "method"])
    if not [k for k in ia.index if k in ib.index]:
        raise BenchmarkError(f"{ra} and {rb} share no (family, method) row: nothing to compare")
    rows = []
    for key in [k for k in ia.index if k in ib.index]:
        x, y = ia.loc[key], ib.loc[key]
        overlap = {t: bool(max(x[f"{t}_lo"], y[f"{t}_lo"]) <= min(x[f"{t}_hi"], y[f"{t}_hi"])) for t in tasks}
        ranks = max(x["rank_best"], y["rank_best"]) <= min(x["rank_worst"], y["rank_worst"])
        rows.append({"family": key[0], "method": key[1], **{f"{t}_a": x[t] for t in tasks},
                     **{f"{t}_b": y[t] for t in tasks}, "disagree_on": [t for t, ok in overlap.items() if not ok],
                     "scores_agree": all(overlap.values()), "rank_a": x["rank"], "rank_b": y["rank"],
                     "ranks_agree": bool(ranks), "verdict_a": _verdict(x), "verdict_b": _verdict(y),
                     "verdict_agrees": _verdict(x) == _verdict(y)})
    only = sorted(set(ia.index) ^ set(ib.index))
    if only:
        rows += [{"family": f, "method": m, "disagree_on": ["only in one folder"], "scores_agree": False,
                  "rank_a": "-", "rank_b": "-", "ranks_agree": False, "verdict_a": "-", "verdict_b": "-",
                  "verdict_agrees": False, "average_a": float("nan"), "average_b": float("nan")} for f, m in only]
    return Comparison(rows, (machine(ra), machine(rb)))


def to_markdown(c: Comparison, a: str, b: str) -> str:
    yes = {True: "yes", False: "NO"}
    lines = [f"A: {a}  ({_describe(c.machines[0])})", f"B: {b}  ({_describe(c.machines[1])})", "",
             "| family | method | average A | average B | scores agree | rank A | rank B | ranks agree "
             "| vs base A | vs base B | verdict agrees |", "|" + "---|" * 11]
    for r in c.rows:
        scores = yes[r["scores_agree"]] + ("" if r["scores_agree"] else f" ({', '.join(r['disagree_on'])})")
        lines.append(f"| {r['family']} | {r['method']} | {r['average_a']:.1f} | {r['average_b']:.1f} | {scores} | "
                     f"{r['rank_a']} | {r['rank_b']} | {yes[r['ranks_agree']]} | {r['verdict_a']} | "
                     f"{r['verdict_b']} | {yes[r['verdict_agrees']]} |")
    n = len(c.rows)
    agreeing = sum(r["scores_agree"] and r["ranks_agree"] and r["verdict_agrees"] for r in c.rows)
    lines += ["", f"verdict: {'the folders agree' if c.agree else 'the folders DISAGREE'} ({agreeing} of {n} "
              "methods agree on every task's interval, the rank range and the verdict against base)"]
    return "\n".join(lines) + "\n"


def _describe(m: dict) -> str:
    if not m:
        return "no machine recorded"
    return (f"{m.get('cpu')}; {m.get('flags') or 'flags n/a'}; {m.get('threads')} thread(s); torch {m.get('torch')}"
            f"; oneDNN {m.get('onednn')}; git {str(m.get('git'))[:12]}")
