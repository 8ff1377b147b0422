"""The lm-eval model classes: registration, likelihood conventions, and simple_evaluate into our store."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "armap-eval"


class Req:
    def __init__(self, *args):
        self.args = args


def test_registered_with_lm_eval_on_import():
    from lm_eval.api.registry import get_model

    import benchmark.eval  # noqa: F401
    from benchmark.eval.lm_eval_model import BenchARLM, BenchLM

    assert get_model("dllm") is BenchLM and get_model("bench-ar") is BenchARLM
    assert get_model("hf") is not None, "lm-eval's own models stay available"


def test_one_pass_likelihood_reads_the_shifted_logits(micro_pair):
    """Dream predicts token i from position i-1. Reading position i instead (the released Dream
    TruthfulQA script's bug) gives a different number, so this test catches that mistake."""
    from benchmark.eval.lm_eval_model import BenchLM

    lm = BenchLM(str(micro_pair.dllm_path), likelihood="one_pass")
    context, continuation = micro_pair.format_prompt("what color is bama ?"), " it is red"
    (ll, _), = lm.loglikelihood([Req(context, continuation)])
    ctx, cont = lm._ids(context), lm._ids(continuation)
    ids = torch.tensor([ctx + cont])
    masked = ids.clone()
    masked[0, len(ctx):] = lm.mask_id
    with torch.no_grad():
        logits = lm.model(input_ids=masked).logits[0].float()
    logp = F.log_softmax(logits, -1)
    right = sum(logp[len(ctx) + j - 1, t].item() for j, t in enumerate(cont))
    off_by_one = sum(logp[len(ctx) + j, t].item() for j, t in enumerate(cont))
    assert ll == pytest.approx(right, abs=1e-4)
    assert abs(right - off_by_one) > 1e-2


def test_ar_likelihood_is_exact_and_greedy_flag(micro_pair):
    from benchmark.eval.lm_eval_model import BenchARLM

    lm = BenchARLM(str(micro_pair.ar_path))
    context = micro_pair.format_prompt("what is 2 plus 2 ?")
    ids = torch.tensor([lm._ids(context)])
    with torch.no_grad():
        greedy_token = lm.model(input_ids=ids).logits[0, -1].argmax().item()
        logp = F.log_softmax(lm.model(input_ids=ids).logits[0, -1].float(), -1)[greedy_token].item()
    word = lm.tok.convert_ids_to_tokens(greedy_token)
    (ll, is_greedy), = lm.loglikelihood([Req(context, " " + word)])
    assert ll == pytest.approx(logp, abs=1e-4) and is_greedy


def test_elbo_and_rolling_likelihoods_are_log_probabilities(micro_pair):
    from benchmark.eval.lm_eval_model import BenchLM

    one_pass = BenchLM(str(micro_pair.dllm_path), likelihood="one_pass")
    elbo = BenchLM(str(micro_pair.dllm_path), mc_num=64)
    req = [Req(micro_pair.format_prompt("list two fruits without fig"), " apple pear")]
    assert elbo.loglikelihood(req)[0][0] < 0 and one_pass.loglikelihood(req)[0][0] < 0
    assert len(elbo.loglikelihood_rolling([Req("apple pear plum")])) == 1


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not next to the project")
def test_simple_evaluate_on_both_kinds_lands_in_store_and_leaderboard(micro_pair, tmp_path):
    from benchmark.eval.local_tasks import write_local_tasks
    from benchmark.harness.cells import score_with_lm_eval as evaluate_with_lm_eval

    gsm = tmp_path / "gsm8k.jsonl"
    gsm.write_text("".join(json.dumps({"question": f"what is {a} plus 1 ?", "answer": f"so #### {a + 1}"}) + "\n"
                           for a in range(6)))
    names = write_local_tasks(tmp_path / "tasks", gsm8k=gsm, truthfulqa=DATA / "TruthfulQA.csv",
                              prompt="<|user|> {q} <|assistant|>", max_gen_toks=8)
    store = tmp_path / "results" / "lm-eval"
    for kind, path, method in (("dllm", micro_pair.dllm_path, "base"), ("ar", micro_pair.ar_path, "ar-base")):
        results = evaluate_with_lm_eval(path, kind, names, tmp_path / "tasks", store, "micro", method, limit=4,
                                        model_args={"mc_num": 2})
        assert 0 <= results["gsm8k_local"]["exact_match:last-number"]["value"] <= 100
        assert 0 < results["truthfulqa_mc2_local"]["mc2"]["value"] < 100
    records = sorted(store.glob("cells/micro/*/*/seed0.json"))
    assert len(records) == 4
    rec = json.loads(records[0].read_text())
    assert rec["config"]["lm_eval_task"] in names and rec["versions"]["lm_eval"]
    board = json.loads((store / "leaderboard.json").read_text())
    assert {r["method"] for r in board} == {"base", "ar-base"}
    assert all(r["lm-eval__truthfulqa_mc2_local"] == r["lm-eval__truthfulqa_mc2_local"] for r in board)


def test_local_gsm8k_rows_are_validated(tmp_path):
    from benchmark.core.data import DataError
    from benchmark.eval.local_tasks import write_local_tasks

    bad = tmp_path / "g.jsonl"
    bad.write_text('{"question": "q", "answer": "no marker"}\n')
    with pytest.raises(DataError, match=r"g.jsonl:1: needs string fields 'question' and 'answer'"):
        write_local_tasks(tmp_path / "t", gsm8k=bad)


def test_mc2_is_length_normalised_probability_mass_on_true_choices(micro_pair):
    import math

    from benchmark.eval.lm_eval_model import BenchARLM
    from benchmark.eval.loaders import MultipleChoice
    from benchmark.eval.truthfulqa import mc2_scores

    lm = BenchARLM(str(micro_pair.ar_path))
    item = MultipleChoice("what color is bama ?", "it is red", ("it is red",), ("it is blue", "i do not know"))
    prompt = micro_pair.format_prompt("{q}")
    (score,) = mc2_scores(lm, [item], prompt=prompt)
    lls = [lm.loglikelihood([Req(prompt.format(q=item.question), " " + c)])[0][0] / len(c.split())
           for c in ("it is red", "it is blue", "i do not know")]  # one token per word in the tiny vocabulary
    expected = math.exp(lls[0]) / sum(math.exp(v) for v in lls)
    assert score == pytest.approx(expected, rel=1e-5)


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not next to the project")
def test_eval_truthfulqa_mc2_stores_a_cell(micro_pair, tmp_path, capsys):
    from benchmark.cli import main

    for kind, path, method in (("dllm", micro_pair.dllm_path, "base"), ("ar", micro_pair.ar_path, "ar-base")):
        assert main(["eval", "--task", "truthfulqa-mc2", "--model-dir", str(path), "--kind", kind,
                     "--data", str(DATA / "TruthfulQA.csv"), "--limit", "3", "--model-args", "mc_num=2",
                     "--method", method, "--family", "micro", "--out", str(tmp_path)]) == 0
    board = json.loads((tmp_path / "lm-eval" / "leaderboard.json").read_text())
    assert {r["method"] for r in board} == {"base", "ar-base"}
    assert all(0 < r["truthfulqa-mc2[limit=3]"] < 100 for r in board)


def test_model_class_places_the_model_and_accepts_a_dtype(micro_pair):
    from benchmark.eval.lm_eval_model import BenchLM, Request

    fp32 = BenchLM(str(micro_pair.dllm_path), likelihood="one_pass")
    assert fp32.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = BenchLM(str(micro_pair.dllm_path), likelihood="one_pass", device="cpu", dtype="bfloat16")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    reqs = [Request(micro_pair.format_prompt("what is 2 plus 1 ?"), " 3")]
    (a, _), (b, _) = fp32.loglikelihood(reqs)[0], bf16.loglikelihood(reqs)[0]
    assert a == pytest.approx(b, abs=0.1)  # the same model, rounded weights
    with pytest.raises(ValueError, match="dtype must be"):
        BenchLM(str(micro_pair.dllm_path), dtype="int8")


def test_ar_likelihoods_take_one_forward_per_batch_and_equal_hflm(micro_pair):
    """is_greedy comes from the likelihood's own logits (no second pass), requests are batched by length and
    answered in order, and the numbers equal lm-eval's HFLM on the same checkpoint."""
    from lm_eval.models.huggingface import HFLM

    from benchmark.core.cost import CostMeter
    from benchmark.eval.lm_eval_model import BenchARLM, Request

    prompt = micro_pair.format_prompt("what is 2 plus 3 ?")
    conts = [" 5", " 6", " 5 5 5", " i do not know", " 4"]
    requests = [Request(prompt, c) for c in conts]
    lm = BenchARLM(str(micro_pair.ar_path), batch_size=8)
    with CostMeter() as cost:
        ours = lm.loglikelihood(requests)
    assert cost.forward_passes == 1, "one forward for likelihoods and is_greedy of one batch"
    hf = HFLM(pretrained=str(micro_pair.ar_path), backend="causal", batch_size=8, device="cpu",
              tokenizer=lm.tok, add_bos_token=False)
    theirs = hf.loglikelihood(requests)
    for (a, ga), (b, gb) in zip(ours, theirs):
        assert a == pytest.approx(b, abs=1e-4) and ga == gb
