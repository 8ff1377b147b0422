"""The runner: every (family, method, training set, seed) unit of a suite, resumable, then the leaderboard.

For each (family, training set, seed) the ``base`` unit runs first: its answers are the reference of every
other row's win rate, so it runs even when ``--methods`` leaves it out. Units run one after another
(``executor="serial"``) or as Ray tasks (``"ray"``, see ``ray_executor.py``); both write the same records.
"""

from __future__ import annotations

import logging
import time

from benchmark.core.errors import BenchmarkError
from benchmark.core.provenance import apply_threads
from benchmark.core.store import FolderLock, claim_suite_folder, remove_stale_work_dirs
from benchmark.harness.cells import run_unit
from benchmark.harness.grid import REFERENCE_METHOD, RunConfig, RunPlan, plan_run, suite_source
from benchmark.harness.leaderboard import write_leaderboard
from benchmark.harness.ray_executor import run_units_on_ray
from benchmark.harness.report import write_report

__all__ = ["REFERENCE_METHOD", "RunConfig", "run"]
log = logging.getLogger(__name__)


def run(cfg: RunConfig):
    """Run every missing cell, then rebuild and return the leaderboard (a pandas DataFrame).

    The result folder is locked for the run: a second ``run`` on it stops at once with a message."""
    plan = plan_run(cfg)
    plan.store_root.mkdir(parents=True, exist_ok=True)
    with FolderLock(plan.store_root, f"`run --suite {plan.suite.name}`"):
        claim_suite_folder(plan.store_root, plan.suite.name, suite_source(plan.suite))
        for stale in remove_stale_work_dirs(plan.store_root, ".work-*"):  # left by a killed run; never results
            log.info("removed %s, left by an interrupted run", stale)
        apply_threads()
        if cfg.executor == "ray":
            ran, done, failed = run_units_on_ray(plan)
        else:
            ran, done, failed = _run_serial(plan)
        for stale in remove_stale_work_dirs(plan.store_root, ".work-*"):  # a worker killed mid-cell (Ray)
            log.info("removed %s, left by a worker that died", stale)
        log.info("%d unit(s) run, %d already done", ran, done)
        start = time.perf_counter()
        board = write_leaderboard(plan.store_root)
        report = write_report(plan.store_root)
        log.info("leaderboard and %s rebuilt in %.2fs", report, time.perf_counter() - start)
        if failed:
            raise BenchmarkError(f"{len(failed)} unit(s) failed after retries: " + "; ".join(failed)
                                 + " (the leaderboard holds the cells that finished; rerun to retry)")
        return board


def _run_serial(plan: RunPlan) -> tuple[int, int, list[str]]:
    from tqdm.auto import tqdm

    done = ran = 0
    bar = tqdm(plan.units, desc=f"units ({plan.suite.name})", unit="unit")
    for unit in bar:
        bar.set_postfix_str(unit.label())
        if run_unit(plan, unit):
            ran += 1
        else:
            done += 1
    bar.close()
    return ran, done, []


