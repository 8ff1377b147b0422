"""Loading released checkpoints without their remote code: Dream-format configs and tokenizers."""

import json
import shutil

import pytest
import torch

from benchmark.models.loading import load_model, load_tokenizer


@pytest.fixture()
def dream_format(micro_pair, tmp_path):
    """The micro DLLM saved the way Dream-v0 is released: model_type Dream, auto_map, custom tokenizer class."""
    folder = tmp_path / "dream"
    shutil.copytree(micro_pair.dllm_path, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(model_type="Dream", architectures=["DreamModel"], mask_token_id=micro_pair.mask_token_id,
               auto_map={"AutoConfig": "configuration_dream.DreamConfig",
                         "AutoModel": "modeling_dream.DreamModel"})
    (folder / "config.json").write_text(json.dumps(cfg))
    tok_cfg = json.loads((folder / "tokenizer_config.json").read_text())
    tok_cfg.update(tokenizer_class="DreamTokenizer", auto_map={"AutoTokenizer": ["tokenization_dream.DreamTokenizer",
                                                                                  None]})
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    return folder


def test_dream_format_loads_as_its_qwen2_layout_with_the_same_outputs(micro_pair, dream_format):
    original, dream = load_model(micro_pair.dllm_path, "dllm"), load_model(dream_format, "dllm")
    assert type(dream).__name__ == "Qwen2ForCausalLM" and dream.config.is_causal is False
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert torch.equal(original(input_ids=ids).logits, dream(input_ids=ids).logits)
    tok = load_tokenizer(dream_format)
    assert tok("what is 1 plus 1 ?")["input_ids"] == load_tokenizer(micro_pair.dllm_path)("what is 1 plus 1 ?")[
        "input_ids"]


def test_dream_format_runs_in_the_lm_eval_model_class(dream_format, micro_pair):
    from benchmark.eval.lm_eval_model import BenchLM, Request

    lm = BenchLM(str(dream_format), likelihood="one_pass")
    assert lm.mask_id == micro_pair.mask_token_id
    (ll, _), = lm.loglikelihood([Request(micro_pair.format_prompt("what is 2 plus 1 ?"), " 3")])
    assert ll < 0


def test_unknown_model_type_names_the_file_and_field(micro_pair, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(micro_pair.dllm_path, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_type"] = "llada"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"config.json: field .model_type. is .llada."):
        load_model(folder, "dllm")
