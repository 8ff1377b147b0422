"""``run --executor ray``: every cell of the grid a Ray task, on a local cluster or one given by ``--address``.

The driver (the ``run`` process) prepares the families once, skips the cells already done, and submits the
rest with the resources the suite asks for (``[resources] cpus_per_cell / gpus_per_cell``). A cell's
dependencies are Ray arguments, so they finish first: the base cell of its (family, task, seed), whose
answers are the win rates' reference, and the cells whose shared work its method reuses (``Method.reuses``:
the AR teacher of ar-dpo, ar-map and ar-map-auto is trained once). Workers write records atomically into the
result folder (shared storage on a cluster), as the serial executor does; the driver rebuilds the
leaderboard. A worker that dies mid-cell leaves no record; Ray retries the cell ``max_retries`` times, then
the driver reports it. A cell whose method raises is reported at once (a bug is not retried).

On a SLURM cluster start Ray across the allocation first (https://docs.ray.io/en/latest/cluster/vms/user-guides/
community/slurm.html) and pass ``--address auto`` from a node of it; the package must be installed, and the
result folder and model cache reachable, on every node.
"""

from __future__ import annotations

import logging
import os

from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import load_plugin_file
from benchmark.core.store import ResultStore
from benchmark.harness.grid import RunConfig, RunPlan, cell_config, plan_run, run_cell

log = logging.getLogger(__name__)

# Environment a worker needs to see what the driver sees (caches, offline switches, threads).
FORWARDED_ENV = ("DLLM_BENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                 "TQDM_DISABLE", "PYTHONPATH", "JUDGE_BASE_URL", "JUDGE_MODEL", "JUDGE_API_KEY", "OPENAI_API_KEY",
                 "OPENAI_BASE_URL", "BENCH_TEST_CRASH_MARKER")


def _cell_in_worker(cfg: RunConfig, key, threads: int, *dependencies) -> bool:
    """One cell in a Ray worker: load the run's plugins, plan the run again, run the cell."""
    import torch

    torch.set_num_threads(max(1, threads))
    os.environ["DLLM_BENCH_THREADS"] = str(max(1, threads))
    for path in cfg.plugins:
        load_plugin_file(path)
    return run_cell(plan_run(cfg), key)


def run_cells_on_ray(plan: RunPlan) -> tuple[int, int, list[str]]:
    """Run the plan's missing cells as Ray tasks; returns (ran, already done, failed cell messages)."""
    try:
        import ray
    except ImportError as exc:
        raise BenchmarkError("--executor ray needs Ray: pip install -e '.[ray]'") from exc
    from tqdm.auto import tqdm

    cfg, suite = plan.cfg, plan.suite
    store = ResultStore(plan.store_root)
    todo = []
    for key in plan.cells:  # families are prepared here, once, before any worker starts
        _, digest = cell_config(plan, key)
        if cfg.force or not store.is_done(key, digest):
            todo.append(key)
    done = len(plan.cells) - len(todo)
    if not todo:
        return 0, done, []
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        kwargs = {"address": cfg.address} if cfg.address else {"num_cpus": os.cpu_count()}
        ray.init(**kwargs, runtime_env={"env_vars": env}, log_to_driver=False, include_dashboard=False)
    try:
        remote = ray.remote(_cell_in_worker)
        refs: dict = {}
        for key in todo:  # plan.cells lists every cell after its dependencies
            deps = [refs[d] for d in plan.dependencies(key) if d in refs]
            refs[key] = remote.options(num_cpus=suite.cpus_per_cell, num_gpus=suite.gpus_per_cell,
                                       max_retries=cfg.max_retries, retry_exceptions=False,
                                       name=key.label()).remote(cfg, key, int(suite.cpus_per_cell), *deps)
        by_ref = {ref: key for key, ref in refs.items()}
        ran, failed, waiting = 0, [], list(refs.values())
        bar = tqdm(total=len(waiting), desc=f"cells ({suite.name}, ray)", unit="cell")
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            key = by_ref[ready[0]]
            try:
                ran += bool(ray.get(ready[0]))
            except Exception as exc:  # a dead worker after its retries, or the method's own error
                cause = getattr(exc, "cause", None) or exc
                failed.append(f"{key.label()}: {type(cause).__name__}: {str(cause).splitlines()[0][:300]}")
                log.error("cell %s failed: %s", key.label(), failed[-1])
            bar.update(1)
        bar.close()
        return ran, done, failed
    finally:
        if started_here:
            ray.shutdown()
