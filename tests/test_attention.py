"""Block-causal attention (SDAR): its two limits, padding, and a Qwen3 checkpoint saved in SDAR's format."""

import json

import pytest
import torch

from benchmark.models.attention import block_causal_mask
from benchmark.models.loading import load_model


def logits(model, ids, attn=None, pos=None):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=attn, position_ids=pos).logits


@pytest.fixture()
def ids():
    return torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]])


def test_one_block_as_long_as_the_sequence_is_bidirectional(micro_pair, ids):
    full = load_model(micro_pair.dllm_path, "dllm")
    blocked = load_model(micro_pair.dllm_path, "dllm", block_attention=ids.shape[1])
    assert torch.allclose(logits(full, ids), logits(blocked, ids), atol=1e-5)


def test_blocks_of_one_are_causal(micro_pair, ids):
    causal = load_model(micro_pair.dllm_path, "ar")  # the same weights, causal attention
    blocked = load_model(micro_pair.dllm_path, "dllm", block_attention=1)
    assert torch.allclose(logits(causal, ids), logits(blocked, ids), atol=1e-5)


def test_blocks_see_earlier_blocks_only(micro_pair, ids):
    blocked = load_model(micro_pair.dllm_path, "dllm", block_attention=4)
    base = logits(blocked, ids)
    later = ids.clone()
    later[0, 6] = 11  # a token of the second block
    changed = logits(blocked, later)
    assert torch.allclose(base[0, :4], changed[0, :4], atol=1e-5)  # the first block cannot see it
    assert not torch.allclose(base[0, 4:6], changed[0, 4:6], atol=1e-5)  # its own block can, both ways


def test_left_padding_does_not_move_the_blocks(micro_pair, ids):
    blocked = load_model(micro_pair.dllm_path, "dllm", block_attention=3)
    pad = micro_pair.mask_token_id
    padded = torch.cat([torch.full((1, 2), pad), ids], 1)
    attn = torch.cat([torch.zeros(1, 2, dtype=torch.long), torch.ones_like(ids)], 1)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    assert torch.allclose(logits(blocked, ids)[0], logits(blocked, padded, attn, pos)[0, 2:], atol=1e-5)
    mask = block_causal_mask(attn, pos, 3)
    assert mask.shape == (1, 1, 10, 10) and not mask[0, 0, 2:, :2].any()  # no real query sees padding
    assert mask[0, 0, 0, 0] and mask[0, 0, 1, 1]  # a padded query sees itself at least (no NaN rows)


def test_sdar_format_checkpoint_loads_block_causal_without_remote_code(tmp_path):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    cfg = Qwen3Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=64)
    torch.manual_seed(0)
    Qwen3ForCausalLM(cfg).save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw.update(model_type="sdar", architectures=["SDARForCausalLM"], mask_token_id=31,
               auto_map={"AutoConfig": "configuration_sdar.SDARConfig"})
    (tmp_path / "config.json").write_text(json.dumps(raw))
    model = load_model(tmp_path, "dllm", block_attention=4)
    assert type(model).__name__ == "Qwen3ForCausalLM"
    x = torch.arange(8).unsqueeze(0)
    reference = Qwen3ForCausalLM.from_pretrained(tmp_path, config=cfg).eval()
    mask = block_causal_mask(torch.ones_like(x), torch.arange(8).unsqueeze(0), 4)
    with torch.no_grad():
        assert torch.allclose(logits(model, x), reference(input_ids=x, attention_mask=mask).logits, atol=1e-5)


def test_sdar_format_gets_block_attention_and_no_shift_in_the_model_class(micro_pair, tmp_path):
    import shutil

    from transformers import Qwen3Config, Qwen3ForCausalLM

    from benchmark.eval.lm_eval_model import BenchLM, Request

    vocab = json.loads((micro_pair.dllm_path / "config.json").read_text())["vocab_size"]
    cfg = Qwen3Config(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=128)
    Qwen3ForCausalLM(cfg).save_pretrained(tmp_path)
    for f in micro_pair.dllm_path.glob("tokenizer*"):
        shutil.copy(f, tmp_path / f.name)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw.update(model_type="sdar", mask_token_id=micro_pair.mask_token_id)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    lm = BenchLM(str(tmp_path), block_length=4)
    assert lm.block_attention == 4 and lm.shift is False and lm.model._block_attention_size == 4
    (text,) = lm.generate_until([Request(micro_pair.format_prompt("what is 1 plus 1 ?"),
                                         {"until": [], "max_gen_toks": 8})])
    assert isinstance(text, str)
    assert BenchLM(str(tmp_path), block_attention=2).model._block_attention_size == 2


def test_block_attention_under_eager_attention_equals_sdpa(micro_pair):
    """eager adds its mask to the scores: the hook gives it an additive float mask, not sdpa's bool one."""
    ids = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8], [3, 4, 5, 6, 7, 8, 9, 10]])
    attn = (ids != 0).long()
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    sdpa = load_model(micro_pair.dllm_path, "dllm", block_attention=2)
    eager = load_model(micro_pair.dllm_path, "dllm", block_attention=2)
    eager.config._attn_implementation = "eager"
    for layer in eager.model.layers:
        layer.self_attn.config._attn_implementation = "eager"
    a, b = logits(sdpa, ids, attn, pos), logits(eager, ids, attn, pos)
    assert torch.allclose(a[attn.bool()], b[attn.bool()], atol=1e-4)


def test_a_saved_block_causal_model_stays_block_causal(micro_pair, tmp_path, ids):
    """A DLLM trained from an SDAR-style model and saved keeps its block attention when loaded again."""
    blocked = load_model(micro_pair.dllm_path, "dllm", block_attention=4)
    blocked.save_pretrained(tmp_path / "saved")
    again = load_model(tmp_path / "saved", "dllm")
    assert getattr(again, "_block_attention_size", None) == 4
    assert torch.allclose(logits(blocked, ids), logits(again, ids), atol=1e-5)
    assert getattr(load_model(micro_pair.dllm_path, "dllm"), "_block_attention_size", None) is None
