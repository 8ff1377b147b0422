"""AR-MAP's streaming merge against mergekit, an independent implementation: plain AR-MAP equals mergekit's
task_arithmetic (base = the AR model; the DLLM with weight 1, the aligned AR model with weight gamma), and
ar-map-ties' trimmed vector equals mergekit's ``ties`` merge; DARE's drop and rescale are checked by count
and norm; the three methods run through the harness."""

import json

import pytest
import torch
from safetensors.torch import load_file

GAMMA = 2.0


def _mergekit(config: dict, out):
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    run_merge(MergeConfiguration.model_validate(config), str(out), MergeOptions(copy_tokenizer=False))
    return load_file(out / "model.safetensors")


@pytest.fixture(scope="module")
def teacher(micro_pair, tmp_path_factory):
    """A random (non-zero) LoRA adapter on the micro AR model, and the AR model with it merged by peft."""
    from peft import LoraConfig, get_peft_model

    from benchmark.models.loading import load_model

    root = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(0)
    model = get_peft_model(load_model(micro_pair.ar_path, "ar"), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj"], init_lora_weights=False))
    model.save_pretrained(root / "adapter")
    model.merge_and_unload().save_pretrained(root / "aligned")
    return root


def test_plain_armap_equals_mergekit_task_arithmetic(micro_pair, teacher, tmp_path):
    from benchmark.align.transfer import lora_task_vector, merge_task_vector

    merge_task_vector(micro_pair.dllm_path, lora_task_vector(teacher / "adapter"), GAMMA, tmp_path / "ours")
    ours = load_file(tmp_path / "ours" / "model.safetensors")
    theirs = _mergekit({"merge_method": "task_arithmetic", "base_model": str(micro_pair.ar_path), "dtype": "float32",
                        "parameters": {"normalize": False},
                        "models": [{"model": str(micro_pair.dllm_path), "parameters": {"weight": 1.0}},
                                   {"model": str(teacher / "aligned"), "parameters": {"weight": GAMMA}}]},
                       tmp_path / "mergekit")
    dllm = load_file(micro_pair.dllm_path / "model.safetensors")
    assert set(theirs) <= set(ours)
    changed = [k for k in theirs if not torch.equal(ours[k], dllm[k])]
    assert any("q_proj" in k for k in changed) and all(("proj" in k) for k in changed)
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, rtol=1e-5, atol=2e-6, msg=name)


def test_ties_trim_equals_mergekit_ties(micro_pair, teacher, tmp_path):
    from benchmark.align.transfer import lora_task_vector, merge_task_vector, sparsified_task_vector

    delta = sparsified_task_vector(lora_task_vector(teacher / "adapter"), "magnitude", 0.2)
    merge_task_vector(micro_pair.dllm_path, delta, GAMMA, tmp_path / "ours")
    ours = load_file(tmp_path / "ours" / "model.safetensors")
    # mergekit: the DLLM + tau (its own task_arithmetic) merged back onto the DLLM by TIES at weight gamma
    _mergekit({"merge_method": "task_arithmetic", "base_model": str(micro_pair.ar_path), "dtype": "float32",
               "parameters": {"normalize": False},
               "models": [{"model": str(micro_pair.dllm_path), "parameters": {"weight": 1.0}},
                          {"model": str(teacher / "aligned"), "parameters": {"weight": 1.0}}]}, tmp_path / "plus")
    theirs = _mergekit({"merge_method": "ties", "base_model": str(micro_pair.dllm_path), "dtype": "float32",
                        "parameters": {"normalize": False},
                        "models": [{"model": str(tmp_path / "plus"),
                                    "parameters": {"weight": GAMMA, "density": 0.2}}]}, tmp_path / "ties")
    dllm = load_file(micro_pair.dllm_path / "model.safetensors")
    for name in delta.shapes:
        kept = (ours[name] != dllm[name]).float().mean().item()
        assert kept == pytest.approx(0.2, abs=0.01), name
        # entries at the trim threshold may fall either side after mergekit's (DLLM + tau) - DLLM rounding
        close = torch.isclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5).float().mean().item()
        assert close > 0.995, (name, close)


def test_dare_drops_at_random_and_keeps_the_l1_norm(micro_pair, teacher):
    from benchmark.align.transfer import lora_task_vector, sparsified_task_vector

    tau = lora_task_vector(teacher / "adapter")
    dare = sparsified_task_vector(tau, "random", 0.3, seed=1)
    for name in tau.shapes:
        full, kept = tau[name], dare[name]
        assert (kept != 0).float().mean().item() == pytest.approx(0.3, abs=0.05), name
        assert kept.abs().sum().item() == pytest.approx(full.abs().sum().item(), rel=1e-4), name
    name = next(iter(tau.shapes))
    assert torch.equal(sparsified_task_vector(tau, "random", 0.3, seed=1)[name], dare[name]), "seeded"
    assert not torch.equal(sparsified_task_vector(tau, "random", 0.3, seed=2)[name], dare[name])
    from benchmark.align.checkpoint import TransferError

    with pytest.raises(TransferError, match="density must be in"):
        sparsified_task_vector(tau, "random", 0.0)


def test_ties_and_dare_rows_run_through_the_harness(micro_plugins, micro_pair, cache_dir, tmp_path):
    from benchmark.harness.runner import RunConfig, run

    board = run(RunConfig(suite="micro", methods=["ar-map", "ar-map-ties", "ar-map-dare"], tasks=["arith"],
                          seeds=1, out=tmp_path, cache_dir=cache_dir))
    assert {"ar-map", "ar-map-ties", "ar-map-dare"} <= set(board["method"])
    cells = tmp_path / "micro" / "cells" / "micro"
    ties = json.loads((cells / "ar-map-ties" / "arith" / "seed0.json").read_text())
    assert ties["info"]["task_vector"] == {"method": "magnitude", "density": 0.2, "seed": 0, "by": "mergekit.sparsify"}
    plain = json.loads((cells / "ar-map" / "arith" / "seed0.json").read_text())
    assert ties["info"]["teacher"] == plain["info"]["teacher"], "one teacher, three merges"
