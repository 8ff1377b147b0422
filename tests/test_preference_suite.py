"""A suite file trained on real preference data and scored by eval tasks, on the micro family:
each preference format (the real Anthropic HH and LLaMA-Factory files among them), one likelihood task
(TruthfulQA MC2) and one generation task (GSM8K) in the same run, the leaderboard with both columns and
the average; the family given as checkpoint folders; malformed files; resume."""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HH = DATA / "hh-rlhf" / "helpful-base_test.jsonl.gz"
LLAMAFACTORY = DATA / "llamafactory" / "dpo_en_demo.json"


def _eval_files(folder: Path) -> tuple[Path, Path]:
    tqa = folder / "tqa.csv"
    tqa.write_text("Question,Best Answer,Correct Answers,Incorrect Answers\n" + "".join(
        f"what color is {w} ?,it is red,it is red; red,it is blue; blue; green\n" for w in ("bama", "fig", "pear")))
    gsm = folder / "gsm8k.jsonl"
    gsm.write_text("".join(json.dumps({"question": f"what is {a} plus 2 ?", "answer": f"so #### {a + 2}"}) + "\n"
                           for a in range(3)))
    return tqa, gsm


def _plain_pairs(folder: Path) -> Path:
    rows = [{"prompt": f"what is {a} plus 1 ?", "chosen": f"it is {a + 1}", "rejected": f"it is {a + 2}"}
            for a in range(30)]
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _suite(folder: Path, name: str, family: str, preference: str, methods: list[str]) -> Path:
    tqa, gsm = _eval_files(folder)
    text = f"""
[suite]
name = "{name}"
families = ["{family}"]
tasks = ["truthfulqa-mc2", "gsm8k"]
methods = {json.dumps(methods)}

[budget]
steps = 2
batch_size = 4

[preference]
{preference}
n_heldout = 4
max_prompt_tokens = 48
max_response_tokens = 8

[eval.truthfulqa-mc2]
data = "{tqa.name}"

[eval.gsm8k]
data = "{gsm.name}"
limit = 2
"""
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


FORMATS = [
    pytest.param("plain", None, id="plain"),
    pytest.param("hh-rlhf", HH, id="hh-rlhf",
                 marks=pytest.mark.skipif(not HH.is_file(), reason="shared/data is not next to the project")),
    pytest.param("llamafactory", LLAMAFACTORY, id="llamafactory",
                 marks=pytest.mark.skipif(not LLAMAFACTORY.is_file(), reason="shared/data is not next to the project")),
]


@pytest.mark.parametrize("fmt,source", FORMATS)
def test_suite_file_trains_on_each_format_and_scores_eval_tasks(micro_pair, cache_dir, tmp_path, fmt, source):
    from benchmark.harness.runner import RunConfig, run

    path = source or _plain_pairs(tmp_path)
    methods = ["base", "ar-dpo", "ar-map", "elbo-dpo"] if fmt == "plain" else ["base", "elbo-dpo"]
    suite = _suite(tmp_path, f"pref-{fmt}", "micro", f'format = "{fmt}"\npath = "{path}"', methods)
    board = run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    assert set(board["method"]) == set(methods)
    for column in ("truthfulqa-mc2", "gsm8k", "average", "truthfulqa-mc2_lo", "average_hi"):
        assert column in board.columns, column
    root = tmp_path / "out" / f"pref-{fmt}"
    rec = json.loads((root / "cells" / "micro" / "elbo-dpo" / "truthfulqa-mc2" / "seed0.json").read_text())
    counts = rec["info"]["training_data"]
    # 8 training pairs (2 steps x 4) cut to 8 answer tokens; pairs whose cut answers are equal are dropped
    assert counts["train"]["kept"] + counts["train"]["dropped_identical"] == 8, counts
    assert counts["train"]["kept"] >= 1 and counts["heldout"]["kept"] <= 4, counts
    assert rec["info"]["train_losses"], "ELBO-DPO trained on the preference data"
    assert not list((root / "artifacts").glob("aligned-*")), "models are dropped once all their cells are stored"
    # an immediate rerun trains nothing and rewrites nothing
    before = {p: p.stat().st_mtime_ns for p in root.glob("cells/**/*.json")}
    run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    assert {p: p.stat().st_mtime_ns for p in root.glob("cells/**/*.json")} == before


def test_a_family_of_checkpoint_folders(micro_pair, cache_dir, tmp_path):
    """[families.NAME] with local folders in place of hub ids: the paper suite's code path, on CPU."""
    from benchmark.harness.runner import RunConfig, run

    suite = _suite(tmp_path, "ckpt", "pair", f'format = "plain"\npath = "{_plain_pairs(tmp_path)}"',
                   ["base", "ar-map"])
    suite.write_text(suite.read_text() + f"""
[families.pair]
ar = "{micro_pair.ar_path}"
dllm = "{micro_pair.dllm_path}"
default_gamma = 2.0

[families.pair.sampler]
max_new_tokens = 8
steps = 8
block_length = 4
cache = "dual"
""")
    board = run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    assert set(board["method"]) == {"base", "ar-map"}
    rec = json.loads((tmp_path / "out" / "ckpt" / "cells" / "pair" / "ar-map" / "gsm8k" / "seed0.json").read_text())
    assert rec["config"]["sampler"]["cache"] == "dual" and rec["info"]["gamma"] == 2.0


def test_a_mismatched_checkpoint_pair_fails_before_training(micro_pair, tiny_pair, cache_dir, tmp_path):
    from benchmark.align.checkpoint import TransferError
    from benchmark.harness.runner import RunConfig, run

    suite = _suite(tmp_path, "bad", "mixed", f'format = "plain"\npath = "{_plain_pairs(tmp_path)}"', ["base"])
    suite.write_text(suite.read_text() + f'\n[families.mixed]\nar = "{micro_pair.ar_path}"\n'
                     f'dllm = "{tiny_pair.dllm_path}"\n')
    with pytest.raises(TransferError, match="do not share an architecture.*hidden_size"):
        run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))
    assert not (tmp_path / "out" / "bad" / "cells").exists()


P = '[preference]\nformat = "plain"\npath = "x.jsonl"\n'


@pytest.mark.parametrize("edit,message", [
    ('[preference]\nformat = "plain"', "needs 'path'"),
    ('[preference]\nformat = "ranking"\npath = "x.jsonl"', "unknown preference data format 'ranking'"),
    (P + "max_prompt_tokens = 0", "'max_prompt_tokens' must be"),
    (P + "n_train = 3", "unknown key 'n_train'"),
    (P + '[eval.gsm8k]\nlimit = "ten"', r"\[eval.gsm8k\] key 'limit'"),
    (P + "[eval.gsm8k]\noptions = {sampels = 2}", "unknown key 'sampels'"),
    (P + '[families.f]\nar = "a/b"', r"\[families.f\] is missing key 'dllm'"),
    (P + '[families.f]\nar = "a/b"\ndllm = "c/d"\nshift = 1', "key 'shift' must be true or false"),
    (P + '[families.tiny]\nar = "a/b"\ndllm = "c/d"', r"\[families.tiny\]: a family 'tiny' is already registered"),
])
def test_malformed_suite_files_name_file_table_and_key(micro_plugins, tmp_path, edit, message):
    from benchmark.harness.suites import SuiteError, load_suite_file

    path = tmp_path / "s.toml"
    path.write_text(f'[suite]\nname = "s"\nfamilies = ["micro"]\ntasks = ["gsm8k"]\n{edit}\n')
    with pytest.raises(SuiteError, match=message) as err:
        load_suite_file(path)
    assert str(path) in str(err.value)


def test_malformed_preference_rows_name_file_line_and_field(micro_plugins, cache_dir, tmp_path):
    from benchmark.core.data import DataError
    from benchmark.harness.runner import RunConfig, run

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a", "chosen": "b", "rejected": "c"}) + "\n"
                   + json.dumps({"prompt": "a", "chosen": "b"}) + "\n")
    suite = _suite(tmp_path, "rows", "micro", f'format = "plain"\npath = "{bad}"', ["base"])
    with pytest.raises(DataError, match=r"bad.jsonl:2.*'rejected'"):
        run(RunConfig(suite=str(suite), seeds=1, out=tmp_path / "out", cache_dir=cache_dir))


def _toml(value, key=()) -> str:
    """A small TOML writer for suite dictionaries (tables of scalars, lists and inline tables)."""
    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {scalar(x)}" for k, x in v.items()) + " }"
        return repr(v)

    lines, tables = [], []
    for k, v in value.items():
        if isinstance(v, dict) and (not key or k != "options"):
            tables.append((k, v))
        else:
            lines.append(f"{json.dumps(k)} = {scalar(v)}")
    out = ([f"[{'.'.join(json.dumps(p) for p in key)}]"] if key and lines else []) + lines
    for k, v in tables:
        out.append(_toml(v, (*key, k)))
    return "\n".join(out)


@pytest.mark.skipif(not (DATA / "armap-eval").is_dir(), reason="shared/data is not next to the project")
def test_the_paper_suite_file_runs_with_micro_checkpoints_in_place_of_the_hub_ids(micro_pair, cache_dir, tmp_path):
    """benchmark/suites/paper.toml as shipped, with the hub ids replaced by the micro family's folders, the
    budget, the three aspects' LLaMA-Factory files and the eval files cut to a few items and the rule judge
    for the pairwise tasks: the same functions a GPU run uses (both families, three training sets each scored
    by its own tasks, six tasks, five methods, base answers as the reference)."""
    import tomllib

    from benchmark.harness.runner import RunConfig, run

    suite = tomllib.loads((Path(__file__).resolve().parents[1] / "benchmark" / "suites" / "paper.toml").read_text())
    for family in suite["families"].values():
        family.update(ar=str(micro_pair.ar_path), dllm=str(micro_pair.dllm_path))
        family.pop("mask_token_id")  # the micro tokenizer's own mask token
        family["sampler"].update(max_new_tokens=8, steps=8, block_length=4)
    suite["budget"].update(steps=2, batch_size=4)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for aspect, table in suite["train"].items():  # LLaMA-Factory's alpaca shape, as AR-MAP's own files
        rows = [{"instruction": f"{aspect}: what is {a} plus 1 ?", "input": "", "chosen": f"it is {a + 1}",
                 "rejected": f"it is {a + 2}"} for a in range(20)]
        (data_dir / table["path"]).write_text(json.dumps(rows))
        table.update(n_heldout=4, max_prompt_tokens=32, max_response_tokens=8)
    sources = {"alpacaeval.jsonl": DATA / "armap-eval" / "alpacaeval.jsonl",
               "arena-hard-base.jsonl": DATA / "armap-eval" / "arena-hard-base.jsonl",
               "TruthfulQA.csv": DATA / "armap-eval" / "TruthfulQA.csv", "gsm8k.jsonl": DATA / "gsm8k" / "test.jsonl",
               "math500.jsonl": DATA / "math500" / "test.jsonl", "ifeval.jsonl": DATA / "ifeval" / "input_data.jsonl"}
    for name, src in sources.items():
        (data_dir / name).write_text("".join(src.read_text().splitlines(keepends=True)[:3]))
    for name in suite["suite"]["tasks"]:
        spec = suite["eval"].setdefault(name, {})
        options = spec.get("options", {})
        if options.get("judge") == "openai":
            options.update(judge="rule", allow_empty=True)  # the micro model often answers nothing
        if "samples" in options:
            options["samples"] = 1
        for key in ("max_new_tokens",):
            if key in EVAL_OPTIONS.get(name, ()):
                options[key] = 8
        if options:
            spec["options"] = options
    path = tmp_path / "paper.toml"
    path.write_text(_toml(suite) + "\n")
    board = run(RunConfig(suite=str(path), seeds=1, out=tmp_path / "out", cache_dir=cache_dir, data_dir=data_dir))
    assert set(board["method"]) == {"base", "ar-dpo", "ar-map", "elbo-dpo", "vrpo"}
    assert set(board["family"]) == {"qwen2.5-dream", "qwen3-sdar"}
    for task in ("alpacaeval", "arena-hard", "truthfulqa-mc2", "gsm8k", "math500", "ifeval", "average"):
        assert task in board.columns, task
    cells = tmp_path / "out" / "paper" / "cells"
    rec = json.loads((cells / "qwen2.5-dream" / "ar-map" / "alpacaeval" / "seed0.json").read_text())
    assert rec["info"]["gamma"] == 6.0 and rec["info"]["train"] == "helpful"
    assert rec["config"]["unit"]["train_source"]["file"] == "dpo_helpful.json"
    for task, aspect in (("gsm8k", "math"), ("math500", "math"), ("truthfulqa-mc2", "truthful"), ("ifeval", "helpful")):
        assert json.loads((cells / "qwen3-sdar" / "vrpo" / task / "seed0.json").read_text())["info"]["train"] == aspect
    base = tmp_path / "out" / "paper" / "artifacts" / "base-answers" / "qwen2.5-dream-alpacaeval-seed0.jsonl"
    assert base.is_file(), "the base row's answers are the pairwise reference"


EVAL_OPTIONS = {t: ("max_new_tokens",) for t in ("alpacaeval", "arena-hard", "gsm8k", "math500", "ifeval")}


@pytest.mark.parametrize("signum,code", [(15, 143), (2, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_killed_run_resumes_without_loss(micro_pair, micro_plugins, cache_dir, tmp_path, signum, code):
    """SIGTERM or Ctrl-C in the middle of a preference-data suite: exit 128 + the signal, the stored cells
    stay, nothing half-written is left, and the rerun stores the rest without redoing what was stored."""
    import os
    import subprocess
    import sys
    import time

    suite = _suite(tmp_path, "killed", "micro", f'format = "plain"\npath = "{_plain_pairs(tmp_path)}"',
                   ["base", "elbo-dpo", "ar-dpo"])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "benchmark", *[a for p in micro_plugins for a in ("--plugins", p)], "run",
           "--suite", str(suite), "--seeds", "1", "--out", str(out), "--cache-dir", str(cache_dir)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cells = out / "killed" / "cells"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(cells.glob("**/seed0.json"))) < 2 and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signum)
    proc.wait(timeout=120)
    stored = {p: p.stat().st_mtime_ns for p in cells.glob("**/seed0.json")}
    err = proc.stderr.read()
    assert proc.returncode == code, (proc.returncode, err[-2000:])
    assert 2 <= len(stored) < 6, (len(stored), err[-2000:])
    for p in stored:
        json.loads(p.read_text())  # every stored record is whole
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {p: p.stat().st_mtime_ns for p in cells.glob("**/seed0.json")}
    assert len(after) == 6 and all(after[p] == t for p, t in stored.items()), "stored cells were not redone"
    leftovers = [p for p in [*(out / "killed").glob(".work-*"), *(out / "killed" / "artifacts").glob(".aligned-*")]
                 if p.is_dir()]
    assert not leftovers, leftovers
