"""The runner: every (family, task, seed, method) cell of a suite, resumable, then the leaderboard.

For each (family, task, seed) the ``base`` cell runs first: its answers are the reference of every
other cell's win rate, so it runs even when ``--methods`` leaves it out.
"""

from __future__ import annotations

import difflib
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmark.core.api import AlignContext, FamilyContext, Method, Task
from benchmark.core.cost import CostMeter
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash
from benchmark.core.provenance import apply_threads, git_revision, hardware, package_versions, source_of
from benchmark.core.registry import FAMILIES, METHODS, TASKS, RegistryError
from benchmark.core.store import (
    OWNER_FILE,
    SCHEMA_VERSION,
    CellKey,
    FolderLock,
    ResultStore,
    SharedArtifacts,
    make_work_dir,
    remove_stale_work_dirs,
)
from benchmark.eval.scoring import evaluate
from benchmark.harness.leaderboard import write_leaderboard
from benchmark.harness.report import write_report
from benchmark.harness.suites import get_suite
from benchmark.models.tiny import default_cache_dir

log = logging.getLogger(__name__)
REFERENCE_METHOD = "base"


@dataclass
class RunConfig:
    suite: str = "tiny"
    methods: list[str] | None = None
    tasks: list[str] | None = None
    seeds: int = 3
    out: Path = Path("results")
    force: bool = False
    rebuild: bool = False
    keep_models: bool = False
    cache_dir: Path | None = None
    method_configs: dict = field(default_factory=dict)  # method name -> Config instance

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")


def resolve(names: list[str] | None, default: list[str], registry, flag: str) -> list[str]:
    """Validate all names at once so one message lists every unknown one."""
    names = list(default) if names is None else names
    unknown = [n for n in names if n not in registry]
    if unknown:
        described = []
        for name in unknown:
            close = difflib.get_close_matches(name, registry.names(), n=1)
            described.append(repr(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise RegistryError(f"{flag}: unknown {registry.kind}(s) {', '.join(described)}; "
                            f"choices: {', '.join(registry.names())}")
    if not names:
        raise RegistryError(f"{flag}: no {registry.kind}s selected")
    return names


def run(cfg: RunConfig):
    """Run every missing cell, then rebuild and return the leaderboard (a pandas DataFrame).

    The result folder is locked for the run: a second ``run`` on it stops at once with a message."""
    suite = get_suite(cfg.suite)
    method_names = resolve(cfg.methods, list(suite.methods or METHODS.names()), METHODS, "--methods")
    task_names = resolve(cfg.tasks, list(suite.tasks), TASKS, "--tasks")
    method_names = [REFERENCE_METHOD] + [m for m in method_names if m != REFERENCE_METHOD]
    methods: dict[str, Method] = {
        n: METHODS.get(n)(cfg.method_configs.get(n) or suite.method_config(METHODS.get(n))) for n in method_names}
    tasks: dict[str, Task] = {n: TASKS.get(n)() for n in task_names}
    store_root = Path(cfg.out) / suite.name
    store_root.mkdir(parents=True, exist_ok=True)
    with FolderLock(store_root, f"`run --suite {suite.name}`"):
        return _run_locked(cfg, suite, method_names, task_names, methods, tasks, store_root)


def _run_locked(cfg: RunConfig, suite, method_names, task_names, methods, tasks, store_root: Path):
    import torch
    from tqdm.auto import tqdm

    from benchmark.models.generation import generate_answers

    for stale in remove_stale_work_dirs(store_root, ".work-*"):  # left by a killed run; never results
        log.info("removed %s, left by an interrupted run", stale)
    store, shared = ResultStore(store_root), SharedArtifacts(store_root / "artifacts")
    sources = {n: source_of(type(m)) for n, m in methods.items()}
    apply_threads()
    versions, revision, machine = package_versions(), git_revision(), hardware()
    corpus_tasks = [TASKS.get(n)() for n in suite.tasks]

    cells = [(f, t, s, m) for f in suite.families for t in task_names for s in range(cfg.seeds) for m in method_names]
    pairs = {}
    done = ran = 0
    bar = tqdm(cells, desc=f"cells ({suite.name})", unit="cell")
    for family_name, task_name, seed, method_name in bar:
        if family_name not in pairs:
            family = FAMILIES.get(family_name)()
            pairs[family_name] = family.prepare(FamilyContext(corpus_tasks, Path(cfg.cache_dir or default_cache_dir()),
                                                              cfg.rebuild))
        pair, task, method = pairs[family_name], tasks[task_name], methods[method_name]
        key = CellKey(suite.name, family_name, method_name, task_name, seed)
        bar.set_postfix_str(key.label())
        cell_config = {
            "cell": asdict(key), "family_build": pair.build_hash, "sampler": asdict(pair.sampler),
            "method": {"name": method_name, "config": method.config_dict(), "source": sources[method_name]},
            "task": {"name": task_name, "version": task.version},
            "budget": asdict(suite.budget), "sizes": {"train": suite.n_train, "heldout": suite.n_heldout,
                                                      "eval": suite.n_eval},
        }
        cfg_hash = config_hash(cell_config)
        if not cfg.force and store.is_done(key, cfg_hash):
            done += 1
            continue
        data = task.build(seed, suite.n_train, suite.n_heldout, suite.n_eval)
        base_samples = None
        if method_name != REFERENCE_METHOD:
            base_samples = store.samples(CellKey(suite.name, family_name, REFERENCE_METHOD, task_name, seed))
        workdir = make_work_dir(store_root, f".work-{method_name}-")
        try:
            torch.manual_seed(seed)
            with CostMeter() as align_cost:
                ctx = AlignContext(pair, task, data, suite.budget, seed, workdir, shared, align_cost)
                try:
                    aligned = method.align(ctx)
                except (BenchmarkError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # a plugin's bug: name the method and the cell, keep the cause
                    log.debug("traceback of %s", key.label(), exc_info=True)
                    raise BenchmarkError(f"method {method_name!r} ({type(method).__module__}) failed in cell "
                                         f"{key.label()}: {type(exc).__name__}: {exc} (-v shows the traceback)"
                                         ) from exc
            with CostMeter() as eval_cost:
                answers = generate_answers(aligned, pair, [i.prompt for i in data.eval], seed)
            metrics, samples = evaluate(task, data.eval, answers, base_samples)
            record = {
                "schema": SCHEMA_VERSION, "cell": asdict(key), "config_hash": cfg_hash, "config": cell_config,
                "metrics": metrics, "main_metric": task.metrics[0].name, "n_eval": len(data.eval),
                "model_kind": aligned.kind, "info": aligned.info,
                "cost": {"align": align_cost.to_dict(), "eval": eval_cost.to_dict()},
                "versions": versions, "git_revision": revision, "hardware": machine,
                "created": datetime.now(UTC).isoformat(),
            }
            store.write(key, record, samples)
            ran += 1
            main = task.metrics[0].name
            log.info("%s: %s=%.1f win=%s (%.1fs)", key.label(), main, metrics[main]["value"],
                     f"{metrics['win_rate']['value']:.1f}" if "win_rate" in metrics else "-", align_cost.wall_s)
        finally:
            if cfg.keep_models:
                (workdir / OWNER_FILE).unlink(missing_ok=True)
                keep = store_root / "models" / key.label()
                shutil.rmtree(keep, ignore_errors=True)
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(workdir), keep)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    bar.close()
    log.info("%d cell(s) run, %d already done", ran, done)
    start = time.perf_counter()
    board = write_leaderboard(store_root)
    report = write_report(store_root)
    log.info("leaderboard and %s rebuilt in %.2fs", report, time.perf_counter() - start)
    return board
