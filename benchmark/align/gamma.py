"""Choosing AR-MAP's gamma by reward accuracy, as the paper's figure does.

References:
    - AR-MAP, arXiv 2602.02178: "gamma is determined by reward accuracy".

Reward accuracy of a merged DLLM on held-out preference pairs: the fraction of pairs whose implicit
reward margin, [B_merged(y_w) - B_student(y_w)] - [B_merged(y_l) - B_student(y_l)] with ELBO estimates
B, is positive (ties count 1/2). Every gamma is scored with the same noise (common random numbers) and
antithetic sharing between merged and unmerged model, so the curve compares gammas, not noise, and the
unmerged model's ELBOs are computed once. The sweep follows the paper's two phases: gamma = 1 (the
teacher's own scale) and 2, 4, 6, 8 (steps of 2), then the best +-1: at most 7 points. Each point records
its reward accuracy and mean margin with their standard errors over the pairs, so two gammas whose
accuracies differ by less than the noise of the held-out set are not read as different.

Ties are common: to first order the margin is gamma times a fixed directional derivative, so its sign,
and the accuracy, do not depend on gamma until the merge leaves the linear regime. Among equally
accurate gammas the one closest to 1 (the teacher's own scale, on a log scale) is kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.align.transfer import TaskVector
from benchmark.core.store import atomic_write_text
from benchmark.models.batching import SequenceBatch
from benchmark.models.elbo import EstimatorConfig, elbo
from benchmark.models.loading import load_model

log = logging.getLogger(__name__)
COARSE = (1.0, 2.0, 4.0, 6.0, 8.0)  # phase 1: the teacher's scale, then steps of 2
FINE = (-1.0, 1.0)  # phase 2: the best +- 1 (additive; gammas <= 0 are skipped)


@dataclass(frozen=True)
class GammaPoint:
    gamma: float
    reward_accuracy: float
    task_score: float | None = None
    reward_accuracy_se: float | None = None  # standard error over the held-out pairs
    margin: float | None = None  # mean implicit reward margin (nats, beta = 1)
    margin_se: float | None = None


def _margins(b_merged: torch.Tensor, b_student: torch.Tensor) -> torch.Tensor:
    b = b_merged.shape[0] // 2
    return (b_merged[:b] - b_student[:b]) - (b_merged[b:] - b_student[b:])


def reward_accuracy(b_merged: torch.Tensor, b_student: torch.Tensor) -> float:
    """ELBOs [2b] of chosen rows [0, b) then rejected rows [b, 2b) -> fraction of positive margins."""
    s = _margins(b_merged, b_student)
    return ((s > 0).float() + 0.5 * (s == 0).float()).mean().item()


def _point(gamma: float, b_merged: torch.Tensor, b_student: torch.Tensor, task_score) -> GammaPoint:
    s = _margins(b_merged, b_student).double()
    wins = (s > 0).double() + 0.5 * (s == 0).double()
    n = len(s)
    se = (lambda x: float(x.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan"))  # noqa: E731
    return GammaPoint(gamma, float(wins.mean()), task_score, se(wins), float(s.mean()), se(s))


def sweep_gamma(student_dir: Path, delta: TaskVector, batch: SequenceBatch, mask_token_id: int, shift: bool,
                estimator: EstimatorConfig | None = None, coarse=COARSE, fine=FINE, seed: int = 0,
                task_score: Callable[[object, float], float] | None = None) -> tuple[float, list[GammaPoint]]:
    """Return (best gamma, the curve). ``task_score(model, gamma)`` adds a task score per point."""
    estimator = estimator or EstimatorConfig(n=8, n_t=8, n_yt=1, antithetic=True)
    merged = load_model(student_dir, "dllm")
    noise = estimator.draw(batch.response_mask, torch.Generator().manual_seed(seed))  # shared by every gamma
    with torch.no_grad():
        b_student = elbo(merged, batch, noise, mask_token_id, shift, max_rows=512)
    params = dict(merged.named_parameters())
    base = {name: params[name].detach().clone() for name in delta.shapes if name in params}
    deltas = {name: delta[name] for name in base}
    curve: dict[float, GammaPoint] = {}

    def score(gamma: float) -> None:
        gamma = round(gamma, 4)
        if gamma in curve:
            return
        with torch.no_grad():
            for name, w in base.items():
                params[name].copy_((w.float() + gamma * deltas[name]).to(w.dtype))
            b_merged = elbo(merged, batch, noise, mask_token_id, shift, max_rows=512)
        extra = task_score(merged, gamma) if task_score else None
        curve[gamma] = point = _point(gamma, b_merged, b_student, extra)
        log.info("gamma %.3g: reward accuracy %.3f +- %.3f, margin %.3g%s", gamma, point.reward_accuracy,
                 point.reward_accuracy_se, point.margin, "" if extra is None else f", task {extra:.1f}")

    for g in coarse:
        score(g)
    best = max(sorted(curve), key=lambda g: (curve[g].reward_accuracy, -abs(math.log(g))))
    for step in fine:
        if best + step > 0:
            score(best + step)
    points = [curve[g] for g in sorted(curve)]
    best = max(points, key=lambda p: (p.reward_accuracy, -abs(math.log(p.gamma)))).gamma
    return best, points


def write_curve(points: list[GammaPoint], best: float, out_dir: Path) -> dict[str, Path]:
    """``gamma_curve.csv`` and ``gamma_curve.png`` (reward accuracy, and task score if measured)."""
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([p.__dict__ for p in points])
    frame["selected"] = frame["gamma"] == best
    csv = out_dir / "gamma_curve.csv"
    atomic_write_text(csv, frame.to_csv(index=False))
    paths = {"csv": csv}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional; the CSV carries the same numbers
        log.warning("matplotlib is not installed: wrote %s only", csv)
        return paths
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(frame["gamma"], 100 * frame["reward_accuracy"], marker="o", label="reward accuracy")
    ax.axvline(best, color="gray", linestyle="--", label=f"selected gamma = {best:g}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("gamma")
    ax.set_ylabel("reward accuracy (%)")
    if frame["task_score"].notna().any():
        ax2 = ax.twinx()
        ax2.plot(frame["gamma"], frame["task_score"], marker="s", color="tab:orange", label="task score")
        ax2.set_ylabel("task score (%)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    png = out_dir / "gamma_curve.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    paths["png"] = png
    return paths
