"""AR-MAP transfer: exact against peft, strict about mismatches, never half-written."""

import json

import pytest
import torch
from safetensors.torch import load_file

from benchmark.align.lora import LoraSettings
from benchmark.align.transfer import TransferError, lora_task_vector, merge_task_vector
from benchmark.models.loading import load_model


@pytest.fixture()
def adapter(micro_pair, tmp_path):
    """A LoRA adapter on the AR model with random (non-zero) A and B, and its peft merge."""
    from peft import get_peft_model

    cfg = LoraSettings().peft_config()
    cfg.init_lora_weights = False  # random B as well as A, so the delta is not zero
    torch.manual_seed(0)
    peft_model = get_peft_model(load_model(micro_pair.ar_path, "ar"), cfg)
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = {k: v.clone() for k, v in peft_model.merge_and_unload().state_dict().items()}
    return tmp_path / "adapter", merged


def test_gamma_one_on_the_ar_base_equals_peft_merge(micro_pair, adapter, tmp_path):
    adapter_dir, peft_merged = adapter
    manifest = merge_task_vector(micro_pair.ar_path, lora_task_vector(adapter_dir), 1.0, tmp_path / "out")
    ours = load_model(tmp_path / "out", "ar").state_dict()
    assert manifest["changed"], "the adapter should change some tensors"
    for name, value in peft_merged.items():
        assert torch.allclose(ours[name], value, atol=1e-6, rtol=0), name


def test_untouched_tensors_are_bit_identical(micro_pair, adapter, tmp_path):
    adapter_dir, _ = adapter
    manifest = merge_task_vector(micro_pair.dllm_path, lora_task_vector(adapter_dir), 3.0, tmp_path / "out")
    before = load_file(micro_pair.dllm_path / "model.safetensors")
    after = load_file(tmp_path / "out" / "model.safetensors")
    assert before.keys() == after.keys()
    for name in before:
        if name in manifest["changed"]:
            assert not torch.equal(before[name], after[name]), name
        else:
            assert torch.equal(before[name], after[name]), name
    assert json.loads((tmp_path / "out" / "config.json").read_text())["is_causal"] is False


def test_gamma_scales_the_delta_linearly(micro_pair, adapter, tmp_path):
    adapter_dir, _ = adapter
    deltas = lora_task_vector(adapter_dir)
    merge_task_vector(micro_pair.dllm_path, deltas, 2.0, tmp_path / "g2")
    base = load_file(micro_pair.dllm_path / "model.safetensors")
    two = load_file(tmp_path / "g2" / "model.safetensors")
    name = next(iter(deltas.shapes))
    assert torch.allclose(two[name] - base[name], 2.0 * deltas[name], atol=1e-5)


def test_shape_mismatch_is_reported_and_nothing_written(micro_pair, adapter, tmp_path):
    adapter_dir, _ = adapter
    deltas = lora_task_vector(adapter_dir)
    name = next(iter(deltas.shapes))
    deltas.shapes[name] = (deltas.shapes[name][0], deltas.shapes[name][1] - 1)
    deltas.shapes["model.layers.99.mlp.up_proj.weight"] = (2, 2)
    with pytest.raises(TransferError) as err:
        merge_task_vector(micro_pair.dllm_path, deltas, 1.0, tmp_path / "out")
    assert name in str(err.value) and "layers.99" in str(err.value) and "2 problem(s)" in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*")), "no temporary folder left behind"


def test_existing_output_is_refused_unless_overwrite(micro_pair, adapter, tmp_path):
    adapter_dir, _ = adapter
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(TransferError, match="exists"):
        merge_task_vector(micro_pair.dllm_path, lora_task_vector(adapter_dir), 1.0, out)
    assert (out / "keep.txt").read_text() == "mine"
    merge_task_vector(micro_pair.dllm_path, lora_task_vector(adapter_dir), 1.0, out, overwrite=True)
    assert (out / "model.safetensors").is_file()


def test_adapter_folder_without_config(tmp_path):
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(TransferError, match="adapter_config.json"):
        lora_task_vector(tmp_path)


def test_nan_in_delta_is_refused(micro_pair, adapter, tmp_path):
    from safetensors.torch import save_file

    adapter_dir, _ = adapter
    tensors = load_file(adapter_dir / "adapter_model.safetensors")
    name = next(k for k in tensors if "lora_B" in k)
    tensors[name][0, 0] = float("nan")
    save_file(tensors, adapter_dir / "adapter_model.safetensors")
    with pytest.raises(TransferError, match="NaN or inf"):
        merge_task_vector(micro_pair.dllm_path, lora_task_vector(adapter_dir), 1.0, tmp_path / "out")
    assert not (tmp_path / "out").exists()
