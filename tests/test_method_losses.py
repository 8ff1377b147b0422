"""The objectives of mdm-sft, elbo-ipo, elbo-simpo and elbo-kto, each against a hand computation on two
pairs, and each method trained and scored through the harness on the micro family."""

import json
import math

import pytest
import torch

from benchmark.align.elbo_dpo_trainer import DPOLoss, Estimates

# two pairs: ELBOs of (chosen 1, chosen 2, rejected 1, rejected 2) under the policy and the reference
POLICY = [-10.0, -14.0, -13.0, -12.5]
REFERENCE = [-11.5, -13.0, -12.0, -13.0]  # log-ratios 1.5, -1, -1, 0.5: no symmetry to hide a term
LENGTHS = [5.0, 7.0, 6.0, 4.0]
KL_POLICY, KL_REFERENCE = [-20.0, -18.0], [-21.0, -18.6]
BETA = 0.3


def _est(with_reference=True):
    return Estimates(torch.tensor(POLICY, requires_grad=True), torch.tensor(REFERENCE) if with_reference else None,
                     torch.tensor(LENGTHS), torch.tensor(KL_POLICY), torch.tensor(KL_REFERENCE))


def _logsig(x):
    return -math.log1p(math.exp(-x))


def test_dpo_loss_is_unchanged():
    loss, score = DPOLoss()(_est(), BETA)
    want = [BETA * ((POLICY[i] - REFERENCE[i]) - (POLICY[i + 2] - REFERENCE[i + 2])) for i in range(2)]
    assert score.tolist() == pytest.approx(want) and loss.item() == pytest.approx(-sum(map(_logsig, want)) / 2)


def test_mdm_sft_is_the_per_token_negative_elbo_of_the_chosen_answers():
    from baselines.mdm_sft import MaskedDiffusionSFTLoss

    loss_fn = MaskedDiffusionSFTLoss()
    assert not loss_fn.needs_reference and not loss_fn.needs_rejected
    est = Estimates(torch.tensor(POLICY[:2]), None, torch.tensor(LENGTHS[:2]))  # the chosen rows only
    loss, _ = loss_fn(est, BETA)
    assert loss.item() == pytest.approx(-(POLICY[0] / LENGTHS[0] + POLICY[1] / LENGTHS[1]) / 2)


def test_ipo_squares_the_length_averaged_log_ratio_gap_against_one_over_two_beta():
    from baselines.elbo_ipo import IPOLoss

    loss, _ = IPOLoss()(_est(), BETA)
    h = [(POLICY[i] - REFERENCE[i]) / LENGTHS[i] - (POLICY[i + 2] - REFERENCE[i + 2]) / LENGTHS[i + 2]
         for i in range(2)]
    assert loss.item() == pytest.approx(sum((x - 1 / (2 * BETA)) ** 2 for x in h) / 2)


def test_simpo_is_reference_free_length_normalised_with_a_target_margin():
    from baselines.elbo_simpo import SimPOLoss

    loss_fn = SimPOLoss(gamma=0.5)
    assert not loss_fn.needs_reference
    loss, score = loss_fn(_est(with_reference=False), 2.0)
    s = [2.0 * (POLICY[i] / LENGTHS[i] - POLICY[i + 2] / LENGTHS[i + 2]) - 0.5 for i in range(2)]
    assert score.tolist() == pytest.approx(s) and loss.item() == pytest.approx(-sum(map(_logsig, s)) / 2)


def test_kto_is_unpaired_around_a_clamped_kl_reference_point():
    from baselines.elbo_kto import KTOLoss

    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    z0 = max(0.0, sum(p - r for p, r in zip(KL_POLICY, KL_REFERENCE)) / 2)
    assert z0 == pytest.approx(0.8)
    loss, _ = KTOLoss(desirable_weight=1.0, undesirable_weight=1.5)(_est(), BETA)
    chosen = [1 - sig(BETA * ((POLICY[i] - REFERENCE[i]) - z0)) for i in range(2)]
    rejected = [1.5 * (1 - sig(BETA * (z0 - (POLICY[i + 2] - REFERENCE[i + 2])))) for i in range(2)]
    assert loss.item() == pytest.approx((sum(chosen) + sum(rejected)) / 4)
    # the reference point is clamped at 0 and carries no gradient
    est = _est()
    est.kl_policy = torch.tensor([-30.0, -30.0])
    loss_clamped, _ = KTOLoss()(est, BETA)
    chosen = [1 - sig(BETA * (POLICY[i] - REFERENCE[i])) for i in range(2)]
    rejected = [1 - sig(BETA * -(POLICY[i + 2] - REFERENCE[i + 2])) for i in range(2)]
    assert loss_clamped.item() == pytest.approx((sum(chosen) + sum(rejected)) / 4)


def test_the_kto_collator_pairs_each_prompt_with_the_next_chosen_answer(micro_pair):
    from benchmark.align.elbo_dpo_trainer import PreferenceCollator
    from benchmark.models.loading import load_tokenizer

    tok = load_tokenizer(micro_pair.dllm_path)
    rows = [{"prompt": "what is 1 plus 1 ?", "chosen": "2", "rejected": "3", "idx": 0},
            {"prompt": "what is 2 plus 2 ?", "chosen": "4", "rejected": "5", "idx": 1}]
    out = PreferenceCollator(tok, 8, kl=True)(rows)
    assert out["input_ids"].shape[0] == 4 and out["kl_input_ids"].shape[0] == 2
    first = tok.decode(out["kl_input_ids"][0][out["kl_response_mask"][0]], skip_special_tokens=True)
    assert first.strip() == "4", "prompt 0 with example 1's chosen answer"
    only_chosen = PreferenceCollator(tok, 8, rejected=False)(rows)
    assert only_chosen["input_ids"].shape[0] == 2 and "kl_input_ids" not in only_chosen


def test_each_new_method_trains_and_scores_through_the_harness(micro_plugins, micro_pair, cache_dir, tmp_path):
    from benchmark.harness.runner import RunConfig, run

    methods = ["mdm-sft", "elbo-ipo", "elbo-simpo", "elbo-kto", "coupled-dpo"]
    board = run(RunConfig(suite="micro", methods=methods, tasks=["arith"], seeds=1, out=tmp_path,
                          cache_dir=cache_dir))
    assert set(board["method"]) == {"base", *methods}
    for m in methods:
        rec = json.loads((tmp_path / "micro" / "cells" / "micro" / m / "arith" / "seed0.json").read_text())
        losses = rec["info"]["train_losses"]
        assert losses and all(math.isfinite(v) for v in losses), m
        assert rec["cost"]["align"]["forward_passes"] > 0, m
    sft = json.loads((tmp_path / "micro" / "cells" / "micro" / "mdm-sft" / "arith" / "seed0.json").read_text())
    kto = json.loads((tmp_path / "micro" / "cells" / "micro" / "elbo-kto" / "arith" / "seed0.json").read_text())
    # SFT: one ELBO pass over the chosen rows; KTO: policy and reference on pairs and on the mismatched pairs
    assert sft["cost"]["align"]["tokens"] < kto["cost"]["align"]["tokens"]


def test_coupled_masks_are_complements_and_stay_unbiased(micro_pair):
    from benchmark.models.batching import diffusion_batch
    from benchmark.models.elbo import ElboError, EstimatorConfig, elbo
    from benchmark.models.loading import load_model, load_tokenizer

    resp = torch.tensor([[False, True, True, True, True, True, False], [False, False, True, True, True, True, True]])
    noise = EstimatorConfig(n=4, n_t=4, antithetic=True, form="continuous", coupled=True).draw(resp)
    for first, second in ((0, 2), (1, 3)):  # each pair masks every response token exactly once
        assert torch.equal(noise.masks[first] | noise.masks[second], resp)
        assert not (noise.masks[first] & noise.masks[second]).any()
        t = 1 / noise.weights[first]
        assert torch.allclose(noise.weights[second], 1 / (1 - t))
    with pytest.raises(ElboError, match="coupled complementary masks need form 'continuous'"):
        EstimatorConfig(n=2, n_t=2, coupled=True)
    # unbiased: many coupled estimates average to what many plain exact-l estimates average to
    tok = load_tokenizer(micro_pair.dllm_path)
    model = load_model(micro_pair.dllm_path, "dllm")
    batch = diffusion_batch(tok, ["what is 2 plus 1 ?"] * 64, ["it is 3"] * 64, 8)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        coupled = torch.cat([elbo(model, batch, EstimatorConfig(n=2, n_t=2, form="continuous", coupled=True).draw(
            batch.response_mask, gen), micro_pair.mask_token_id, micro_pair.shift) for _ in range(4)])
        plain = torch.cat([elbo(model, batch, EstimatorConfig().draw(batch.response_mask, gen),
                                micro_pair.mask_token_id, micro_pair.shift) for _ in range(8)])
    se = (coupled.var() / len(coupled) + plain.var() / len(plain)).sqrt()
    assert abs(coupled.mean() - plain.mean()) < 4 * se, (coupled.mean(), plain.mean(), se)
