"""Held-out preference accuracy: does the model rank the chosen answer above the rejected one, and does its
implicit reward against its reference model?

Per pair (x, y_w, y_l):
- ``ranking_accuracy`` (main metric): 1 if the length-normalised log-likelihood of y_w exceeds y_l's
  (log p(y | x) / |y| tokens), 1/2 on a tie, else 0. Exact for AR models; for DLLMs the suite's likelihood
  estimator (the ELBO with ``mc_num`` samples, or the one-pass score).
- ``reward_accuracy`` and ``reward_margin``: DPO's implicit reward r(y) = beta * (log pi(y|x) -
  log pi_ref(y|x)) (sums, not normalised), accuracy of r(y_w) > r(y_l) (ties 1/2) and the mean of
  r(y_w) - r(y_l). The reference is the row's own starting point: the base DLLM for DLLM rows, the AR base
  model for AR rows (a base row scores 50% and 0 against itself). The policy and its reference share each
  request's ELBO noise (it is seeded by the request), so their difference carries no independent noise.

Inside a suite the pairs are the unit's training set's evaluation pairs: ``n_eval_pairs`` of the fixed
held-out order after the ``n_heldout`` pairs ar-map-auto chooses gamma on, never trained on (the record says
which). Outside one: ``eval --task preference-accuracy --data FILE --set format=hh-rlhf [--set
reference=DIR]`` on any preference file.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmark.core.preference_data import PREFERENCE_DATA, ChatPair, load_preference_data
from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import EvalRun, EvalTask, Option, mean_and_stderr, percent


def _path_or_none(value: str) -> Path | None:
    return Path(value) if value else None


@register_eval_task("preference-accuracy")
class PreferenceAccuracyTask(EvalTask):
    name = "preference-accuracy"
    version = "1"
    description = "held-out preference pairs: chosen ranked above rejected (length-normalised), implicit reward"
    scores_training_pairs = True
    options: ClassVar[dict[str, Option]] = {
        "format": Option("plain", "preference data format of --data (outside a suite)", str),
        "beta": Option(0.1, "the implicit reward's beta (inside a suite: the budget's)", float),
        "reference": Option(None, "reference model folder of the implicit reward (inside a suite: the row's base)",
                            _path_or_none),
    }

    def parse_row(self, row: dict, where: str):
        raise NotImplementedError("preference files are read by their format's reader (load)")

    def validate(self, run: EvalRun) -> None:
        if run.options["format"] not in PREFERENCE_DATA:
            raise ValueError(f"--set format: unknown preference data format {run.options['format']!r}; known: "
                             f"{', '.join(PREFERENCE_DATA.names())}")
        if not run.options["beta"] > 0:
            raise ValueError(f"--set beta must be positive, got {run.options['beta']}")

    def load(self, run: EvalRun) -> list:
        if run.pairs is not None:
            items = list(run.pairs)
        elif run.data is not None:
            items = load_preference_data(run.options["format"], Path(run.data))
        else:
            raise ValueError("preference-accuracy needs --data FILE (and --set format=...) outside a suite")
        if not items:
            raise ValueError("preference-accuracy: no pairs to score")
        return items[: run.limit] if run.limit else items

    def evaluate(self, lm, items: list, run: EvalRun):
        from benchmark.eval.lm_eval_model import Request

        prompts = [p.render(lm.tok) if isinstance(p, ChatPair) else p.prompt for p in items]
        requests = [Request(x, a) for x, p in zip(prompts, items) for a in (p.chosen, p.rejected)]
        sums = [ll for ll, _ in lm.loglikelihood(requests)]
        lengths = [max(1, len(lm.tok(a, add_special_tokens=False)["input_ids"])) for p in items
                   for a in (p.chosen, p.rejected)]
        reference = run.options["reference"]
        if reference is None and run.family is not None:
            reference = run.family.dllm_path if lm.kind == "dllm" else run.family.ar_path
        ref_sums = None
        if reference is not None:
            same = Path(reference).resolve() == Path(lm.path).resolve()
            ref_sums = sums if same else [ll for ll, _ in lm.sibling(reference).loglikelihood(requests)]
        beta, samples = run.options["beta"], []
        for i, (prompt, pair) in enumerate(zip(prompts, items)):
            w, lo = 2 * i, 2 * i + 1
            norm_w, norm_l = sums[w] / lengths[w], sums[lo] / lengths[lo]
            scores = {"ranking_accuracy": 1.0 if norm_w > norm_l else 0.5 if norm_w == norm_l else 0.0}
            sample = {"prompt": prompt, "chosen": pair.chosen, "rejected": pair.rejected,
                      "loglik": [sums[w], sums[lo]], "tokens": [lengths[w], lengths[lo]]}
            if ref_sums is not None:
                margin = beta * ((sums[w] - ref_sums[w]) - (sums[lo] - ref_sums[lo]))
                scores["reward_accuracy"] = 1.0 if margin > 0 else 0.5 if margin == 0 else 0.0
                scores["reward_margin"] = margin
                sample["reference_loglik"] = [ref_sums[w], ref_sums[lo]]
            samples.append({**sample, "scores": scores})
        metrics = {"ranking_accuracy": percent(*mean_and_stderr([s["scores"]["ranking_accuracy"] for s in samples]),
                                               "Chosen ranked above rejected (length-normalised log-likelihood)")}
        if ref_sums is not None:
            metrics["reward_accuracy"] = percent(*mean_and_stderr([s["scores"]["reward_accuracy"] for s in samples]),
                                                 "Implicit reward accuracy against the reference")
            mean, se = mean_and_stderr([s["scores"]["reward_margin"] for s in samples])
            metrics["reward_margin"] = {"value": mean, "stderr": se, "higher_is_better": True,
                                        "display": f"Implicit reward margin (beta={beta:g}, nats)"}
        return metrics, samples
