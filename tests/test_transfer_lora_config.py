"""LoRA adapters that peft scales per module (alpha_pattern, rank_pattern, rsLoRA) merge exactly as
peft's ``merge_and_unload``; adapters that are not a task vector (DoRA) or whose config lies about the
rank are refused with the file and field named."""

import json

import pytest
import torch

from benchmark.align.lora import LoraSettings
from benchmark.align.transfer import TransferError, lora_task_vector, merge_task_vector
from benchmark.models.loading import load_model


def _adapter(micro_pair, out, **changes):
    from peft import get_peft_model

    cfg = LoraSettings().peft_config()
    cfg.init_lora_weights = False
    for key, value in changes.items():
        setattr(cfg, key, value)
    torch.manual_seed(0)
    peft_model = get_peft_model(load_model(micro_pair.ar_path, "ar"), cfg)
    peft_model.save_pretrained(out)
    return {k: v.clone() for k, v in peft_model.merge_and_unload().state_dict().items()}


@pytest.mark.parametrize("changes", [
    {"alpha_pattern": {"q_proj": 64, "down_proj": 3}},
    {"rank_pattern": {"v_proj": 2, r"layers\.0\.mlp\.up_proj": 5}},
    {"rank_pattern": {"o_proj": 4}, "alpha_pattern": {"o_proj": 1}, "use_rslora": False},
    {"use_rslora": True},
], ids=["alpha_pattern", "rank_pattern", "both", "rslora"])
def test_per_module_scales_equal_peft_merge(micro_pair, tmp_path, changes):
    peft_merged = _adapter(micro_pair, tmp_path / "adapter", **changes)
    merge_task_vector(micro_pair.ar_path, lora_task_vector(tmp_path / "adapter"), 1.0, tmp_path / "out")
    ours = load_model(tmp_path / "out", "ar").state_dict()
    worst = max((ours[n] - v).abs().max().item() for n, v in peft_merged.items())
    assert worst < 1e-5, f"max difference to peft {worst}"


def test_dora_is_refused(micro_pair, tmp_path):
    _adapter(micro_pair, tmp_path / "adapter", use_dora=True)
    with pytest.raises(TransferError, match="use_dora"):
        lora_task_vector(tmp_path / "adapter")


def _edit_config(adapter_dir, **changes):
    path = adapter_dir / "adapter_config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


def test_a_config_rank_that_differs_from_the_tensors_is_refused(micro_pair, tmp_path):
    _adapter(micro_pair, tmp_path / "adapter", r=4, lora_alpha=8)
    _edit_config(tmp_path / "adapter", r=8)
    with pytest.raises(TransferError, match=r"adapter_config.json: .*r=8 but lora_A/lora_B have rank 4"):
        lora_task_vector(tmp_path / "adapter")


def test_rank_zero_is_an_error_not_a_division_by_zero(micro_pair, tmp_path):
    _adapter(micro_pair, tmp_path / "adapter")
    _edit_config(tmp_path / "adapter", r=0)
    with pytest.raises(TransferError, match="field .r. must be a positive finite number, got 0"):
        lora_task_vector(tmp_path / "adapter")


@pytest.mark.parametrize("field,value,message", [
    ("lora_alpha", float("nan"), "field 'lora_alpha' must be a positive finite number"),
    ("fan_in_fan_out", True, "field 'fan_in_fan_out' is true"),
    ("modules_to_save", ["lm_head"], "field 'modules_to_save'"),
])
def test_lora_variants_peft_merges_otherwise_are_refused_with_the_field(micro_pair, tmp_path, field, value, message):
    _adapter(micro_pair, tmp_path / "adapter")
    _edit_config(tmp_path / "adapter", **{field: value})
    with pytest.raises(TransferError, match=message):
        lora_task_vector(tmp_path / "adapter")


def test_lora_on_embeddings_is_refused(micro_pair, tmp_path):
    from safetensors.torch import load_file, save_file

    _adapter(micro_pair, tmp_path / "adapter")
    path = tmp_path / "adapter" / "adapter_model.safetensors"
    tensors = load_file(path)
    tensors["base_model.model.model.embed_tokens.lora_embedding_A"] = torch.zeros(8, 4)
    save_file(tensors, path)
    with pytest.raises(TransferError, match="LoRA on embeddings"):
        lora_task_vector(tmp_path / "adapter")
