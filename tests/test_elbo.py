"""ELBO estimates and the ELBO-DPO loss against hand computations on a tiny input."""

import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.models.batching import diffusion_batch
from benchmark.models.elbo import ElboError, ElboNoise, elbo, sample_noise
from benchmark.models.loading import load_model, load_tokenizer


@pytest.fixture()
def dllm(micro_pair):
    return load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)


def hand_elbo(model, input_ids, attention_mask, position_ids, mask, weight, mask_id):
    """One sequence, one noise draw, by explicit loops: weight * sum_{masked i} log p(x_i | x_masked)."""
    corrupted = input_ids.clone()
    corrupted[mask] = mask_id
    with torch.no_grad():
        logits = model(input_ids=corrupted[None], attention_mask=attention_mask[None],
                       position_ids=position_ids[None]).logits[0]
    total = 0.0
    for i in range(input_ids.shape[0]):
        if mask[i]:
            logp = F.log_softmax(logits[i - 1].float(), -1)  # Dream shift: position i-1 predicts token i
            total += logp[input_ids[i]].item()
    return weight * total


def test_elbo_matches_hand_computation(dllm, micro_pair):
    model, tok = dllm
    prompts = [micro_pair.format_prompt("what is 1 plus 2 ?"), micro_pair.format_prompt("what color is bama ?")]
    batch = diffusion_batch(tok, prompts, ["3", "it is red"], 8)
    torch.manual_seed(0)
    noise = sample_noise(batch.response_mask, n_t=3, n_yt=2)
    with torch.no_grad():
        per = elbo(model, batch, noise, micro_pair.mask_token_id, shift=True, per_estimate=True, max_rows=5)
    for k in range(noise.n):
        for b in range(2):
            expected = hand_elbo(model, batch.input_ids[b], batch.attention_mask[b], batch.position_ids[b],
                                 noise.masks[k, b], noise.weights[k, b].item(), micro_pair.mask_token_id)
            assert per[k, b].item() == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_exact_l_masks_exactly_l_response_tokens_and_never_the_prompt(dllm, micro_pair):
    _, tok = dllm
    batch = diffusion_batch(tok, [micro_pair.format_prompt("what is 1 plus 2 ?")] * 4, ["3"] * 4, 8)
    noise = sample_noise(batch.response_mask, n_t=8, n_yt=2, generator=torch.Generator().manual_seed(1))
    assert not (noise.masks & ~batch.response_mask).any()
    l = noise.masks.sum(-1).float()  # [n, b]
    assert torch.allclose(noise.weights, 8 / l)
    assert (l >= 1).all() and (l <= 8).all()


def test_stratified_timesteps_cover_each_stratum():
    response_mask = torch.ones(1, 16, dtype=torch.bool)
    response_mask[:, :2] = False  # a 2-token prompt
    noise = sample_noise(response_mask, n_t=4, n_yt=1, generator=torch.Generator().manual_seed(0))
    l = noise.masks.sum(-1).flatten().tolist()  # L = 14 response tokens
    for j, count in enumerate(l):
        assert math.floor(j / 4 * 14) + 1 <= count <= math.floor((j + 1) / 4 * 14) + 1


@pytest.mark.parametrize("kwargs, message", [
    ({"n_t": 0}, "n_t and n_yt must be >= 1"),
    ({"form": "nope"}, "unknown ELBO form"),
])
def test_bad_estimator_settings(kwargs, message):
    with pytest.raises(ElboError, match=message):
        sample_noise(torch.ones(1, 4, dtype=torch.bool), **kwargs)


def test_batch_without_response_tokens_is_an_error():
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, 2:] = True
    with pytest.raises(ElboError, match=r"sequences \[1\] have no response tokens"):
        sample_noise(mask)


@pytest.mark.parametrize("seeded", [True, False], ids=["per-example-noise", "global-rng-noise"])
def test_elbo_dpo_loss_matches_hand_computation(micro_pair, tmp_path, seeded):
    """The trainer's loss on one batch = -log sigmoid(beta * [(pi_w - ref_w) - (pi_l - ref_l)]); the noise is
    drawn per example from its seed (rows with ``idx``) or from the global generator (rows without)."""
    import datasets
    from peft import get_peft_model

    from benchmark.align.elbo_dpo_trainer import ElboDPOConfig, ElboDPOTrainer, PreferenceCollator
    from benchmark.align.lora import LoraSettings

    tok = load_tokenizer(micro_pair.dllm_path)
    cfg = LoraSettings().peft_config()
    cfg.init_lora_weights = False  # policy != reference, so the margins are not zero
    torch.manual_seed(0)
    model = get_peft_model(load_model(micro_pair.dllm_path, "dllm"), cfg)
    rows = [{"prompt": micro_pair.format_prompt("what is 1 plus 2 ?"), "chosen": "3", "rejected": "4"},
            {"prompt": micro_pair.format_prompt("what color is bama ?"), "chosen": "i do not know",
             "rejected": "it is red"}]
    args = ElboDPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", beta=0.5, region_len=8)
    collator = PreferenceCollator(tok, 8)
    trainer = ElboDPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                             data_collator=collator, mask_token_id=micro_pair.mask_token_id, shift=True)
    inputs = collator([{**r, "idx": 10 + i} for i, r in enumerate(rows)])
    if not seeded:
        inputs.pop("example_ids")
    torch.manual_seed(7)
    with torch.no_grad():
        loss = trainer.compute_loss(model, inputs).item()

    if seeded:  # replay the per-example draws
        assert inputs["example_ids"].tolist() == [10, 11, 10, 11]
        noise_pi, noise_ref = trainer.estimator.draw_pair_seeded(inputs["response_mask"],
                                                                 trainer.noise_seeds(inputs["example_ids"]))
        assert not torch.equal(noise_pi.masks, noise_ref.masks), "independent draws for policy and reference"
    else:
        torch.manual_seed(7)  # replay the trainer's two independent draws: policy first, then reference
        noise_pi = sample_noise(inputs["response_mask"])
        noise_ref = sample_noise(inputs["response_mask"])

    def one(k, noise: ElboNoise):
        return hand_elbo(model, inputs["input_ids"][k], inputs["attention_mask"][k], inputs["position_ids"][k],
                         noise.masks[0, k], noise.weights[0, k].item(), micro_pair.mask_token_id)

    expected = 0.0
    for i in range(2):  # chosen rows 0..1, rejected rows 2..3
        pi_w, pi_l = one(i, noise_pi), one(i + 2, noise_pi)
        with model.disable_adapter():
            ref_w, ref_l = one(i, noise_ref), one(i + 2, noise_ref)
        s = 0.5 * ((pi_w - ref_w) - (pi_l - ref_l))
        expected += -math.log(1 / (1 + math.exp(-s))) / 2
    assert loss == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("chunks", [{}, {"max_rows": 5}, {"max_rows": 1}, {"max_tokens": 64}],
                         ids=["one-pass", "rows-5", "rows-1", "tokens-64"])
def test_bounded_memory_elbo_gives_the_same_estimates_and_gradients(micro_pair, shift, chunks):
    """The head on masked positions only, in slices, and the copies in chunks recomputed in backward: equal
    to the full-logits one-pass ELBO to 1e-5 in fp32, in value and in every parameter's gradient, through a
    LoRA adapter in training mode; prompts of several lengths."""
    from peft import LoraConfig, get_peft_model

    from tests.reference.full_logits_elbo import elbo_full_logits

    tok = load_tokenizer(micro_pair.dllm_path)
    prompts = [micro_pair.format_prompt(p) for p in ("what is 1 plus 2 ?", "list two fruits without fig", "hi")]
    batch = diffusion_batch(tok, prompts, ["3", "apple pear", "i do not know"], 8)
    noise = sample_noise(batch.response_mask, n_t=4, n_yt=1, generator=torch.Generator().manual_seed(3))

    def value_and_grads(fn):
        torch.manual_seed(0)
        model = get_peft_model(load_model(micro_pair.dllm_path, "dllm"),
                               LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj"],
                                          init_lora_weights=False))
        model.train()
        est = fn(model)
        (est * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
        return est.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    new_value, new_grads = value_and_grads(lambda m: elbo(m, batch, noise, micro_pair.mask_token_id, shift, **chunks))
    old_value, old_grads = value_and_grads(lambda m: elbo_full_logits(m, batch, noise, micro_pair.mask_token_id,
                                                                       shift))
    assert torch.allclose(new_value, old_value, atol=1e-5, rtol=1e-5)
    assert new_grads.keys() == old_grads.keys() and len(new_grads) > 0
    for name in old_grads:
        assert torch.allclose(new_grads[name], old_grads[name], atol=1e-5, rtol=1e-4), name


def test_head_slices_cover_every_masked_position(micro_pair, monkeypatch):
    """With a head slice of 3 positions the estimate is unchanged (the slices tile the masked positions)."""
    import benchmark.models.elbo as elbo_module

    model, tok = load_model(micro_pair.dllm_path, "dllm"), load_tokenizer(micro_pair.dllm_path)
    batch = diffusion_batch(tok, [micro_pair.format_prompt("what is 1 plus 2 ?")] * 2, ["3", "4"], 8)
    noise = sample_noise(batch.response_mask, n_t=2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = elbo(model, batch, noise, micro_pair.mask_token_id, True)
        monkeypatch.setattr(elbo_module, "_head_positions", lambda vocab: 3)
        sliced = elbo(model, batch, noise, micro_pair.mask_token_id, True)
    assert torch.allclose(whole, sliced, atol=1e-6)
