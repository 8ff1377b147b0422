"""The transfer engine on real checkpoint layouts: shards, full task vectors, bad inputs, the CLI."""

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from benchmark.align.armap import transfer
from benchmark.align.lora import LoraSettings
from benchmark.align.transfer import (
    Checkpoint,
    Gammas,
    TransferError,
    full_task_vector,
    lora_task_vector,
    merge_task_vector,
)
from benchmark.cli import main
from benchmark.models.loading import load_model


def tree_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def all_tensors(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


@pytest.fixture()
def teacher(micro_pair, tmp_path):
    """A random LoRA adapter on the AR model, its peft-merged full model, and a sharded DLLM copy."""
    from peft import get_peft_model

    cfg = LoraSettings().peft_config()
    cfg.init_lora_weights = False
    torch.manual_seed(1)
    peft_model = get_peft_model(load_model(micro_pair.ar_path, "ar"), cfg)
    peft_model.save_pretrained(tmp_path / "adapter")
    peft_model.merge_and_unload().save_pretrained(tmp_path / "aligned")
    load_model(micro_pair.dllm_path, "dllm").save_pretrained(tmp_path / "sharded", max_shard_size="40KB")
    for f in micro_pair.dllm_path.glob("tokenizer*"):
        shutil.copy2(f, tmp_path / "sharded" / f.name)
    return tmp_path


def test_sharded_merge_equals_single_file_merge(micro_pair, teacher, tmp_path):
    assert len(list((teacher / "sharded").glob("*.safetensors"))) >= 3
    assert (teacher / "sharded" / "model.safetensors.index.json").is_file()
    delta = lora_task_vector(teacher / "adapter")
    before = tree_digest(teacher / "sharded")
    merge_task_vector(teacher / "sharded", delta, 2.0, tmp_path / "from-shards")
    merge_task_vector(micro_pair.dllm_path, delta, 2.0, tmp_path / "from-single")
    a, b = all_tensors(tmp_path / "from-shards"), all_tensors(tmp_path / "from-single")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert tree_digest(teacher / "sharded") == before, "inputs are never modified"
    index = json.loads((tmp_path / "from-shards" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {p.name for p in (tmp_path / "from-shards").glob("*.safetensors")}


def test_worker_count_does_not_change_the_output(teacher, tmp_path):
    delta = lora_task_vector(teacher / "adapter")
    one = merge_task_vector(teacher / "sharded", delta, 2.0, tmp_path / "one", workers=1)
    three = merge_task_vector(teacher / "sharded", delta, 2.0, tmp_path / "three", workers=3)
    shards = sorted(p.name for p in (tmp_path / "one").glob("*.safetensors"))
    digests = tree_digest(tmp_path / "one"), tree_digest(tmp_path / "three")
    assert shards and all(digests[0][name] == digests[1][name] for name in shards)
    assert (one["run"]["workers"], three["run"]["workers"]) == (1, 3)
    assert one["run"]["shard_bytes"] == sum((teacher / "sharded" / name).stat().st_size for name in shards)


def test_full_task_vector_equals_lora_delta(micro_pair, teacher, tmp_path):
    full = full_task_vector(teacher / "aligned", micro_pair.ar_path)
    merge_task_vector(micro_pair.ar_path, full, 1.0, tmp_path / "ar-again")
    again, aligned = all_tensors(tmp_path / "ar-again"), all_tensors(teacher / "aligned")
    for name, value in aligned.items():
        assert torch.allclose(again[name], value, atol=1e-6, rtol=0), name


def test_gamma_per_module_type(micro_pair, teacher, tmp_path):
    delta = lora_task_vector(teacher / "adapter")
    manifest = merge_task_vector(micro_pair.dllm_path, delta, Gammas(1.0, attn=0.0, mlp=3.0), tmp_path / "out")
    base, out = load_file(micro_pair.dllm_path / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    q, up = "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(out[q], base[q]) and manifest["changed"][q]["gamma"] == 0.0
    assert torch.allclose(out[up] - base[up], 3.0 * delta[up], atol=1e-5)


def test_missing_index_file(teacher):
    (teacher / "sharded" / "model.safetensors.index.json").unlink()
    with pytest.raises(TransferError, match="no model.safetensors or model.safetensors.index.json"):
        Checkpoint(teacher / "sharded")


def test_index_naming_a_missing_shard(teacher):
    shard = sorted((teacher / "sharded").glob("*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(TransferError, match=f"names shard file.*{shard.name}"):
        Checkpoint(teacher / "sharded")


def test_truncated_shard(teacher, tmp_path):
    shard = sorted((teacher / "sharded").glob("*.safetensors"))[1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(TransferError, match=f"{shard.name}: unreadable safetensors"):
        merge_task_vector(teacher / "sharded", lora_task_vector(teacher / "adapter"), 1.0, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_config_mismatch_is_reported_with_every_field(micro_pair, teacher, tmp_path):
    student = tmp_path / "student"
    shutil.copytree(micro_pair.dllm_path, student)
    cfg = json.loads((student / "config.json").read_text())
    cfg.update(num_attention_heads=cfg["num_attention_heads"] * 2, num_hidden_layers=7)
    (student / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TransferError) as err:
        transfer(student, tmp_path / "out", 1.0, aligned=teacher / "aligned", base=micro_pair.ar_path)
    assert "num_attention_heads" in str(err.value) and "num_hidden_layers" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_pickle_checkpoint_is_refused(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(TransferError, match="pickle"):
        Checkpoint(tmp_path)


def test_partial_merge_lists_what_it_skipped(micro_pair, teacher, tmp_path):
    delta = lora_task_vector(teacher / "adapter")
    delta.shapes["model.layers.9.mlp.up_proj.weight"] = (4, 4)
    with pytest.raises(TransferError, match="layers.9"):
        merge_task_vector(micro_pair.dllm_path, delta, 1.0, tmp_path / "strict")
    manifest = merge_task_vector(micro_pair.dllm_path, delta, 1.0, tmp_path / "partial", allow_partial=True)
    assert manifest["skipped"] == ["model.layers.9.mlp.up_proj.weight: not in the student"]


def test_cli_transfer_with_gamma_auto(micro_pair, teacher, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"what is {a} plus 1 ?", "chosen": str(a + 1), "rejected": str(a + 2)} for a in range(6)]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "merged"
    rc = main(["transfer", "--student", str(micro_pair.dllm_path), "--lora", str(teacher / "adapter"),
               "--gamma", "auto", "--pairs", str(pairs), "--out", str(out), "--score-task", "arith",
               "--score-limit", "6", "--workers", "2"])
    assert rc == 0, capsys.readouterr().err
    manifest = json.loads((out / "transfer_manifest.json").read_text())
    run = manifest["run"]
    assert run["workers"] == 2 and run["versions"]["torch"] == torch.__version__
    assert run["cost"]["forward_passes"] > 0  # the gamma search's ELBO passes count in the cost
    assert run["cost"]["wall_s"] >= run["merge_wall_s"] > 0
    gammas = [p["gamma"] for p in manifest["gamma_curve"]]
    assert manifest["gamma"]["default"] in gammas and 5 <= len(gammas) <= 7  # 1, 2, 4, 6, 8, then best +- 1
    assert all(p["reward_accuracy_se"] is not None and p["margin_se"] is not None for p in manifest["gamma_curve"])
    scores = [p["task_score"] for p in manifest["gamma_curve"]]
    assert all(s is not None and 0 <= s <= 100 for s in scores)
    assert all(round(s * 6 / 100, 6).is_integer() for s in scores)  # a fraction of the 6 prompts
    assert (tmp_path / "merged.gamma" / "gamma_curve.csv").is_file()
    assert (tmp_path / "merged.gamma" / "gamma_curve.png").stat().st_size > 1000
    assert main(["transfer", "--student", str(micro_pair.dllm_path), "--lora", str(teacher / "adapter"),
                 "--gamma", "1", "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_cli_transfer_bad_adapter(micro_pair, tmp_path, capsys):
    (tmp_path / "adapter").mkdir()
    assert main(["transfer", "--student", str(micro_pair.dllm_path), "--lora", str(tmp_path / "adapter"),
                 "--gamma", "1", "--out", str(tmp_path / "out")]) == 2
    assert "adapter_config.json" in capsys.readouterr().err


def test_score_task_needs_gamma_auto(micro_pair, teacher, tmp_path, capsys):
    assert main(["transfer", "--student", str(micro_pair.dllm_path), "--lora", str(teacher / "adapter"),
                 "--gamma", "1", "--score-task", "arith", "--out", str(tmp_path / "out")]) == 2
    assert "needs --gamma auto" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_manifest_delta_norms_match_the_tensors(micro_pair, teacher, tmp_path):
    full = full_task_vector(teacher / "aligned", micro_pair.ar_path)
    manifest = merge_task_vector(micro_pair.ar_path, full, 1.0, tmp_path / "ar-again")
    aligned, base = all_tensors(teacher / "aligned"), all_tensors(micro_pair.ar_path)
    lora = merge_task_vector(micro_pair.ar_path, lora_task_vector(teacher / "adapter"), 1.0, tmp_path / "lora")
    for name, entry in manifest["changed"].items():
        expected = float((aligned[name].float() - base[name].float()).norm())
        assert entry["delta_norm"] == pytest.approx(expected, rel=1e-4, abs=1e-6), name
        if name in lora["changed"]:  # the LoRA closed form agrees with the summed rows
            assert lora["changed"][name]["delta_norm"] == pytest.approx(expected, rel=1e-3, abs=1e-6), name


def test_student_with_a_resized_vocabulary_takes_a_delta_that_skips_the_embeddings(micro_pair, teacher, tmp_path):
    """A DLLM that added a mask token has a larger vocabulary; a LoRA delta on attention/MLP still applies."""
    model = load_model(micro_pair.dllm_path, "dllm")
    model.resize_token_embeddings(model.config.vocab_size + 3)
    model.save_pretrained(tmp_path / "student")
    teacher_config = json.loads((micro_pair.ar_path / "config.json").read_text())
    delta = lora_task_vector(teacher / "adapter")
    manifest = merge_task_vector(tmp_path / "student", delta, 1.0, tmp_path / "out", teacher_config=teacher_config)
    assert manifest["changed"] and any("vocab_size" in note for note in manifest["config_differences"])
    delta.shapes["model.embed_tokens.weight"] = (teacher_config["vocab_size"], teacher_config["hidden_size"])
    with pytest.raises(TransferError, match="vocab_size"):  # a delta on the embeddings still needs equal vocabularies
        merge_task_vector(tmp_path / "student", delta, 1.0, tmp_path / "out2", teacher_config=teacher_config)


def test_a_zero_task_vector_warns(micro_pair, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        manifest = transfer(micro_pair.dllm_path, tmp_path / "out", 1.0, aligned=micro_pair.ar_path,
                            base=micro_pair.ar_path)
    assert manifest["warnings"] and "zero" in manifest["warnings"][0]
    assert any("task vector is zero" in r.getMessage() for r in caplog.records)


def test_allow_pickle_is_gone(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "--student", "s", "--lora", "a", "--gamma", "1", "--out", "o", "--allow-pickle"])
    assert "unrecognized arguments: --allow-pickle" in capsys.readouterr().err
