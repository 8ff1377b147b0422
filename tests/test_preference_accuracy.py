"""The held-out preference task, checked by hand on three pairs for an AR model and a DLLM; the teacher's
gain and the transfer ratio on the leaderboard; ar-base as a row."""

import math

import pytest
import torch

from benchmark.core.api import PreferencePair
from benchmark.eval.eval_task import EvalRun

PAIRS = [PreferencePair("what is 2 plus 1 ?", "it is 3", "it is 4"),
         PreferencePair("what is 5 plus 1 ?", "it is 6", "it is 9 or 8"),
         PreferencePair("name a color", "red", "it is a dog")]


def _task():
    from benchmark.core.registry import EVAL_TASKS

    return EVAL_TASKS.get("preference-accuracy")()


def _perturbed_copy(src, dst, scale=0.05):
    """A reference model: the same folder with one weight nudged (the implicit reward is then not 0)."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = load_file(dst / "model.safetensors")
    name = next(k for k in weights if k.endswith("mlp.up_proj.weight"))
    weights[name] = weights[name] + scale * torch.randn(weights[name].shape, generator=torch.Generator().manual_seed(0))
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def _hand_logp(model, tok, prompt: str, answer: str, kind: str, mask_id=None) -> float:
    """log p(answer | prompt): AR exact; DLLM one pass with every answer token masked, AR shift (micro)."""
    p, a = tok(prompt, add_special_tokens=False)["input_ids"], tok(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + a])
    inputs = ids.clone()
    if kind == "dllm":
        inputs[0, len(p):] = mask_id
    with torch.no_grad():
        logits = model(input_ids=inputs).logits[0].float().log_softmax(-1)
    return float(sum(logits[len(p) + i - 1, t] for i, t in enumerate(a)))


@pytest.mark.parametrize("kind", ["ar", "dllm"])
def test_ranking_and_implicit_reward_by_hand(micro_pair, tmp_path, kind):
    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM
    from benchmark.models.loading import load_model, load_tokenizer

    path = micro_pair.ar_path if kind == "ar" else micro_pair.dllm_path
    reference = _perturbed_copy(path, tmp_path / "reference")
    args = {"likelihood": "one_pass"} if kind == "dllm" else {}
    lm = (BenchARLM if kind == "ar" else BenchLM)(str(path), seed=0, **args)
    task = _task()
    run = EvalRun(seed=0, options=task.resolve_options({"beta": "0.5", "reference": str(reference)}), pairs=PAIRS)
    metrics, samples = task.evaluate(lm, task.load(run), run)

    tok = load_tokenizer(path)
    policy, ref = load_model(path, kind), load_model(reference, kind)
    ranked, rewarded, margins = [], [], []
    for p in PAIRS:
        lw, ll = (_hand_logp(policy, tok, p.prompt, a, kind, lm.mask_id) for a in (p.chosen, p.rejected))
        rw, rl = (_hand_logp(ref, tok, p.prompt, a, kind, lm.mask_id) for a in (p.chosen, p.rejected))
        nw, nl = (len(tok(a, add_special_tokens=False)["input_ids"]) for a in (p.chosen, p.rejected))
        ranked.append(1.0 if lw / nw > ll / nl else 0.0)
        margin = 0.5 * ((lw - rw) - (ll - rl))
        margins.append(margin)
        rewarded.append(1.0 if margin > 0 else 0.0)
    assert [s["scores"]["ranking_accuracy"] for s in samples] == ranked
    assert [s["scores"]["reward_accuracy"] for s in samples] == rewarded
    assert [s["scores"]["reward_margin"] for s in samples] == pytest.approx(margins, rel=1e-4, abs=1e-5)
    assert any(m != 0 for m in margins), "the perturbed reference moves the reward"
    assert metrics["ranking_accuracy"]["value"] == pytest.approx(100 * sum(ranked) / 3)
    assert metrics["reward_margin"]["value"] == pytest.approx(sum(margins) / 3, rel=1e-4, abs=1e-5)


def test_elbo_policy_against_itself_has_no_noise_in_the_reward(micro_pair):
    """The ELBO noise is drawn per request: the policy and its reference share it, so a model against itself
    has reward margin exactly 0 (accuracy 1/2), and two runs agree."""
    from benchmark.eval.lm_eval_model import BenchLM

    lm = BenchLM(str(micro_pair.dllm_path), seed=3, mc_num=2)
    task = _task()
    run = EvalRun(seed=3, options=task.resolve_options({"reference": str(micro_pair.dllm_path)}), pairs=PAIRS)
    metrics, samples = task.evaluate(lm, PAIRS, run)
    assert all(s["scores"]["reward_margin"] == 0.0 and s["scores"]["reward_accuracy"] == 0.5 for s in samples)
    other = BenchLM(str(micro_pair.dllm_path), seed=3, mc_num=2).sibling(micro_pair.dllm_path)
    assert [s["loglik"] for s in task.evaluate(other, PAIRS, run)[1]] == [s["loglik"] for s in samples]


def test_a_preference_file_outside_a_suite(micro_pair, tmp_path):
    from benchmark.eval.lm_eval_model import BenchARLM

    rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in PAIRS]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    task = _task()
    run = EvalRun(data=path, seed=0, options=task.resolve_options({"format": "plain"}))
    metrics, samples = task.evaluate(BenchARLM(str(micro_pair.ar_path)), task.load(run), run)
    assert set(metrics) == {"ranking_accuracy"} and len(samples) == 3  # no reference given: no implicit reward
    with pytest.raises(ValueError, match="unknown preference data format 'plian'"):
        task.validate(EvalRun(options=task.resolve_options({"format": "plian"})))


def test_transfer_is_the_share_of_the_teachers_gain_with_an_interval():
    import numpy as np

    from benchmark.harness.statistics import TaskItems, group_statistics

    rng = np.random.default_rng(0)
    n = 400
    base = rng.integers(0, 2, size=(3, n)) * 100.0
    ar_base = base.copy()
    teacher = np.where(rng.random((3, n)) < 0.3, 100.0, ar_base)  # gains on ~30% of items
    merged = np.where(rng.random((3, n)) < 0.5, teacher, base)  # carries about half of it
    scores = {"base": base, "ar-base": ar_base, "ar-dpo": teacher, "ar-map": merged, "elbo-dpo": base}
    stats = group_statistics({"t": TaskItems([0, 1, 2], scores)}, resamples=500)
    tr = stats.transfer["ar-map"]["t"]
    expected = (merged.mean() - base.mean()) / (teacher.mean() - ar_base.mean())
    assert tr.defined and tr.mean == pytest.approx(expected) and tr.lo < expected < tr.hi
    assert 0.3 < tr.mean < 0.7 and "elbo-dpo" not in stats.transfer
    assert stats.differences["ar-base"]["ar-dpo"]["t"].mean == pytest.approx(teacher.mean() - ar_base.mean())
    # a teacher that gained nothing: the ratio is undefined, not a huge number
    flat = dict(scores, **{"ar-dpo": ar_base})
    tr = group_statistics({"t": TaskItems([0, 1, 2], flat)}, resamples=200).transfer["ar-map"]["t"]
    assert not tr.defined and math.isnan(tr.mean)


def test_the_average_transfer_counts_only_tasks_where_the_teacher_gained():
    import numpy as np

    from benchmark.harness.statistics import TaskItems, group_statistics

    rng = np.random.default_rng(1)
    n = 300
    base = rng.integers(0, 2, size=(2, n)) * 100.0
    gain_task = {"base": base, "ar-base": base, "ar-dpo": np.where(rng.random((2, n)) < 0.4, 100.0, base),
                 "ar-map": base.copy()}
    gain_task["ar-map"] = np.where(rng.random((2, n)) < 0.5, gain_task["ar-dpo"], base)
    flat_task = {"base": base, "ar-base": base, "ar-dpo": base, "ar-map": np.minimum(base + 100.0, 100.0)}
    stats = group_statistics({"g": TaskItems([0, 1], gain_task), "f": TaskItems([0, 1], flat_task)}, resamples=300)
    tr = stats.transfer["ar-map"]
    assert not tr["f"].defined and tr["g"].defined
    assert tr["average"].mean == pytest.approx(tr["g"].mean), "the flat task's gain is not counted as transfer"
