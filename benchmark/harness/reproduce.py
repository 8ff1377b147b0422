"""``python -m benchmark reproduce NAME``: published tables, ours beside the paper's numbers.

    python -m benchmark reproduce vrpo-ablation --suite tiny --out results/   # ~1-2 min on 2 cores
    python -m benchmark reproduce vrpo-ablation --train                       # + task scores per config

``vrpo-ablation`` re-measures LLaDA 1.5's Table 2 on the suite's own DLLM: the variance of the score,
loss and proxy gradient of ELBO-DPO for six (n_t, n_yt, antithetic) settings. The policy is the DLLM
with the AR teacher's task vector merged in (AR-MAP on the suite's first task), the reference is the
unaligned DLLM: two close models, as during preference training. On a suite trained on preference data
(``smol``: real HH answers of up to 95 tokens) the pairs are the suite's held-out pairs, then training
pairs, and the teacher is trained on the suite's training pairs (reused from a ``run`` with the same --out).

    python -m benchmark reproduce vrpo-ablation --suite smol --data-dir ../shared/data --pairs 16 --estimates 4
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from benchmark.core.api import AlignContext, FamilyContext
from benchmark.core.cost import CostMeter
from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import FAMILIES, METHODS, SUITES, TASKS
from benchmark.core.store import FolderLock, SharedArtifacts, atomic_write_text, make_work_dir, remove_stale_work_dirs
from benchmark.eval.synthetic import evaluate_responses
from benchmark.harness import suites as _suites  # noqa: F401
from benchmark.harness.grid import RunConfig, plan_run
from benchmark.harness.training_sets import training_pairs, training_set
from benchmark.models.checkpoints import CheckpointFamily
from benchmark.models.loading import load_model, load_tokenizer
from benchmark.models.tiny import default_cache_dir

log = logging.getLogger(__name__)

TABLE2 = [(4, 1, True), (1, 1, True), (8, 1, True), (1, 4, True), (2, 2, True), (4, 1, False)]
# Beside them, coupled complementary masks (DiffuCoder) against the same budget without coupling, both in the
# continuous form coupling needs: (n_t, n_yt, antithetic, form, coupled); no published numbers.
COUPLED = [(2, 1, True, "continuous", False), (2, 1, True, "continuous", True)]


def paper_numbers() -> dict:
    """The published numbers shipped with the package (copied from shared/reference/paper_numbers.json)."""
    return json.loads(resources.files("benchmark").joinpath("paper_numbers.json").read_text())


def _preference_suite_data(suite_name: str, out: Path, cache_dir, data_dir, seed: int):
    """(pair, task, TaskData) of a suite trained on preference data, exactly as its ``run`` cells see them."""
    plan = plan_run(RunConfig(suite=suite_name, seeds=1, out=Path(out), cache_dir=cache_dir, data_dir=data_dir,
                              methods=["ar-map"]))
    spec = plan.suite.data_sets[0]
    data, _, pair = training_pairs(plan.suite, spec, plan.pair(plan.suite.families[0]), seed, data_dir)
    return pair, training_set(spec), data


def _measurable_here(suite) -> bool:
    """Synthetic-task suites of registered families, and preference-data suites of families the project
    builds (``smol``): not hub checkpoints, which need their GPUs (run those with ``run``)."""
    if not all(f in FAMILIES for f in suite.families):
        return False
    if suite.data_sets:
        return not any(issubclass(FAMILIES.get(f), CheckpointFamily) for f in suite.families)
    return all(t in TASKS for t in suite.tasks)


def vrpo_ablation(suite_name: str, out: Path, train: bool = False, pairs: int = 128, k: int = 8,
                  cache_dir: Path | None = None, seed: int = 0, data_dir: Path | None = None):
    """Write ``out/vrpo-ablation.csv`` and return it as a DataFrame."""
    suite = _suites.get_suite(suite_name)
    supported = [n for n in SUITES.names() if _measurable_here(SUITES.get(n))]
    if not _measurable_here(suite):
        raise BenchmarkError(f"reproduce vrpo-ablation measures a suite's own DLLM on its preference data; suite "
                             f"{suite_name!r} has none it can build here (tasks {list(suite.tasks)}, families "
                             f"{list(suite.families)}). Suites it supports: {', '.join(supported)}")
    if suite.data_sets:
        if train:
            raise BenchmarkError("reproduce vrpo-ablation --train scores the tiny suites' synthetic tasks; on a "
                                 f"preference-data suite ({suite_name}) run the suite with [methods.elbo-dpo] settings")
        pair, task, data = _preference_suite_data(suite_name, out, cache_dir, data_dir, seed)
        tasks = [task]
    else:
        tasks = [TASKS.get(n)() for n in suite.tasks]
        pair = FAMILIES.get(suite.families[0])().prepare(FamilyContext(tasks, Path(cache_dir or default_cache_dir())))
        data = None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out / suite.name, "`reproduce vrpo-ablation`"):
        remove_stale_work_dirs(out / suite.name, ".reproduce-*")
        work = make_work_dir(out / suite.name, ".reproduce-")
        try:  # a fresh work folder per call: a second call reruns instead of tripping over the first's files
            return _vrpo_ablation(suite, tasks, pair, out, work, train, pairs, k, seed, data)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _vrpo_ablation(suite, tasks, pair, out: Path, work: Path, train: bool, pairs: int, k: int, seed: int,
                   data=None):
    import pandas as pd
    import torch

    from benchmark.align.variance import measure_variance
    from benchmark.models.batching import diffusion_batch
    from benchmark.models.elbo import EstimatorConfig

    shared = SharedArtifacts(out / suite.name / "artifacts")

    # 1. Preference pairs: held-out pairs of every suite task (of the preference data, then its training
    # pairs), `pairs` in all.
    if data is not None:
        prefs = (list(data.heldout) + list(data.train))[:pairs]
    else:
        per_task = -(-pairs // len(tasks))
        prefs = [p for t in tasks for p in t.build(seed, 0, per_task, 0).heldout][:pairs]
    tok = load_tokenizer(pair.dllm_path)
    prompts = [pair.format_prompt(p.prompt) for p in prefs]
    batch = diffusion_batch(tok, prompts * 2, [p.chosen for p in prefs] + [p.rejected for p in prefs],
                            pair.sampler.max_new_tokens)

    # 2. Policy = AR-MAP-merged DLLM (close to the reference), reference = the unaligned DLLM.
    data = data or tasks[0].build(seed, suite.n_train, suite.n_heldout, suite.n_eval)
    ctx = AlignContext(pair, tasks[0], data, suite.budget, seed, work, shared, CostMeter())
    policy_dir = METHODS.get("ar-map")().align(ctx).path
    policy, reference = load_model(policy_dir, "dllm"), load_model(pair.dllm_path, "dllm")
    policy.train(False)

    published = {(c["n_t"], c["n_yt"], c["antithetic"]): c for c in paper_numbers()["llada_1_5_table2"]["configs"]}
    rows = []
    for n_t, n_yt, antithetic, form, coupled in [(*c, "exact_l", False) for c in TABLE2] + COUPLED:
        estimator = EstimatorConfig(n=n_t * n_yt, n_t=n_t, n_yt=n_yt, antithetic=antithetic, form=form,
                                    coupled=coupled)
        log.info("variance of (n_t=%d, n_yt=%d, antithetic=%s, %s, coupled=%s) over %d pairs x %d estimates", n_t,
                 n_yt, antithetic, form, coupled, len(prefs), k)
        torch.manual_seed(seed)
        report = measure_variance(policy, reference, batch, estimator, suite.budget.beta, pair.mask_token_id,
                                  pair.shift, k=k, seed=seed)
        paper = published.get((n_t, n_yt, antithetic)) if form == "exact_l" else None
        rows.append({"n_t": n_t, "n_yt": n_yt, "antithetic": antithetic, "form": form, "coupled": coupled,
                     **asdict(report), **{f"paper_{m}": paper[m] if paper else float("nan")
                                          for m in ("var_score", "var_loss", "var_grad")}})
        if coupled or form != "exact_l":
            continue
        if train:
            rows[-1].update(_train_scores(suite, pair, tasks, n_t, n_yt, antithetic, seed, work, shared))
            rows[-1].update({f"paper_{m}": paper[m] for m in ("gsm8k", "ifeval", "arena_hard")})
    table = pd.DataFrame(rows)
    table.insert(0, "suite", suite.name)
    table.insert(1, "pairs", len(prefs))
    table.insert(2, "response_tokens", int(batch.response_mask.sum(-1).float().mean()))
    atomic_write_text(out / "vrpo-ablation.csv", table.to_csv(index=False))
    return table


def _train_scores(suite, pair, tasks, n_t, n_yt, antithetic, seed, work, shared) -> dict:
    """Main-metric score of ELBO-DPO trained with this estimator, per suite task (one seed)."""
    import shutil

    from benchmark.models.generation import generate_answers

    method_cls = METHODS.get("elbo-dpo")
    method = method_cls(method_cls.Config(n_t=n_t, n_yt=n_yt, antithetic=antithetic))
    scores = {}
    for task in tasks:
        data = task.build(seed, suite.n_train, suite.n_heldout, suite.n_eval)
        cell_dir = work / f"train-{task.name}-{n_t}-{n_yt}-{int(antithetic)}"
        shutil.rmtree(cell_dir, ignore_errors=True)
        cell_dir.mkdir(parents=True)
        aligned = method.align(AlignContext(pair, task, data, suite.budget, seed, cell_dir, shared, CostMeter()))
        answers = generate_answers(aligned, pair, [i.prompt for i in data.eval], seed)
        metrics, _ = evaluate_responses(task, data.eval, answers, None)
        scores[task.name] = metrics[task.metrics[0].name]["value"]
        shutil.rmtree(cell_dir, ignore_errors=True)
    return scores


REPRODUCTIONS = {"vrpo-ablation": vrpo_ablation}
