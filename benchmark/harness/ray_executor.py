"""``run --executor ray``: every unit of the plan a Ray task, on a local cluster or one given by ``--address``.

The driver (the ``run`` process) prepares the families once, skips the units whose records are all stored,
and submits the rest with the resources the suite asks for (``[resources] cpus_per_cell / gpus_per_cell``).
A unit's dependencies are Ray arguments, so they finish first: the base unit of its (family, training set,
seed), whose answers are the win rates' reference, and the units whose shared work its method reuses
(``Method.reuses``: the AR teacher of ar-dpo, ar-map and ar-map-auto is trained once). Workers write records
atomically into the result folder (shared storage on a cluster), as the serial executor does; the driver
rebuilds the leaderboard. A worker that dies mid-unit leaves no record; Ray retries the unit
``max_retries`` times, then the driver reports it. A unit whose method raises is reported at once.

On a SLURM cluster start Ray across the allocation first (https://docs.ray.io/en/latest/cluster/vms/user-guides/
community/slurm.html) and pass ``--address auto`` from a node of it; the package must be installed, and the
result folder and model cache reachable, on every node.
"""

from __future__ import annotations

import logging
import os

from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import load_plugin_file
from benchmark.harness.cells import run_unit
from benchmark.harness.grid import RunConfig, RunPlan, missing_cells, plan_run

log = logging.getLogger(__name__)

# Environment a worker needs to see what the driver sees (caches, offline switches, threads). Never secrets:
# Ray writes runtime_env variables in plain text into its session logs. The judge's keys reach workers of a
# local cluster through the environment they inherit from this process; on a cluster, set them on each node.
FORWARDED_ENV = ("DLLM_BENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                 "TQDM_DISABLE", "PYTHONPATH", "JUDGE_BASE_URL", "JUDGE_MODEL", "OPENAI_BASE_URL",
                 "BENCH_TEST_CRASH_MARKER")


def _unit_in_worker(cfg: RunConfig, unit, threads: int, *dependencies) -> bool:
    """One unit in a Ray worker: load the run's plugins, plan the run again, run the unit."""
    import torch

    torch.set_num_threads(max(1, threads))
    os.environ["DLLM_BENCH_THREADS"] = str(max(1, threads))
    for path in cfg.plugins:
        load_plugin_file(path)
    return run_unit(plan_run(cfg), unit)


def run_units_on_ray(plan: RunPlan) -> tuple[int, int, list[str]]:
    """Run the plan's missing units as Ray tasks; returns (ran, already done, failed unit messages)."""
    try:
        import ray
    except ImportError as exc:
        raise BenchmarkError("--executor ray needs Ray: pip install -e '.[ray]'") from exc
    from tqdm.auto import tqdm

    cfg, suite = plan.cfg, plan.suite
    todo = [u for u in plan.units if missing_cells(plan, u, cfg.force)]  # prepares the families, once, here
    done = len(plan.units) - len(todo)
    if not todo:
        return 0, done, []
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        kwargs = {"address": cfg.address} if cfg.address else {"num_cpus": os.cpu_count()}
        ray.init(**kwargs, runtime_env={"env_vars": env}, log_to_driver=False, include_dashboard=False)
    try:
        have = ray.cluster_resources()
        for resource, need in (("GPU", suite.gpus_per_cell), ("CPU", suite.cpus_per_cell)):
            if need > have.get(resource, 0):  # Ray would wait for it forever
                raise BenchmarkError(f"{suite.source}: [resources] {resource.lower()}s_per_cell = {need:g}, but the "
                                     f"Ray cluster has {have.get(resource, 0):g} {resource}(s): no unit could start")
        remote = ray.remote(_unit_in_worker)
        refs: dict = {}
        for key in todo:  # plan.units lists every unit after its dependencies
            deps = [refs[d] for d in plan.dependencies(key) if d in refs]
            refs[key] = remote.options(num_cpus=suite.cpus_per_cell, num_gpus=suite.gpus_per_cell,
                                       max_retries=cfg.max_retries, retry_exceptions=False,
                                       name=key.label()).remote(cfg, key, int(suite.cpus_per_cell), *deps)
        by_ref = {ref: key for key, ref in refs.items()}
        ran, failed, waiting = 0, [], list(refs.values())
        bar = tqdm(total=len(waiting), desc=f"units ({suite.name}, ray)", unit="unit")
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            key = by_ref[ready[0]]
            try:
                ran += bool(ray.get(ready[0]))
            except Exception as exc:  # a dead worker after its retries, or the method's own error
                cause = getattr(exc, "cause", None) or exc
                failed.append(f"{key.label()}: {type(cause).__name__}: {str(cause).splitlines()[0][:300]}")
                log.error("unit %s failed: %s", key.label(), failed[-1])
            bar.update(1)
        bar.close()
        return ran, done, failed
    finally:
        if started_here:
            ray.shutdown()
