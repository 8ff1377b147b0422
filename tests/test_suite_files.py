"""Suites as TOML files: the built-in tiny suite, a user's file through `run --suite PATH.toml`, and errors
that name the file, the table and the key."""

import json

import pytest

from benchmark.cli import main
from benchmark.core.api import Budget
from benchmark.harness.suites import SuiteError, get_suite, load_suite_file
from tests.conftest import PLUGINS

MICRO_TOML = """
[suite]
name = "micro-file"
description = "micro family from a file"
families = ["micro"]
tasks = ["arith"]
methods = ["base", "elbo-dpo"]
n_eval = 6
n_heldout = 4

[budget]
steps = 2
batch_size = 4

[methods.elbo-dpo]
n_t = 2
"""


def test_the_builtin_tiny_suite_is_a_file_and_keeps_its_settings():
    tiny = get_suite("tiny")
    assert tiny.source.endswith("benchmark/suites/tiny.toml")
    assert (tiny.families, tiny.tasks, tiny.methods) == (("tiny",), ("arith", "facts", "listing"), None)
    assert tiny.budget == Budget() and tiny.n_eval == 10_000 and tiny.n_heldout == 64


def test_a_users_suite_file_runs_with_its_method_settings(micro_plugins, micro_pair, cache_dir, tmp_path):
    path = tmp_path / "micro.toml"
    path.write_text(MICRO_TOML)
    assert main(["run", "--suite", str(path), "--seeds", "1", "--out", str(tmp_path / "res"),
                 "--cache-dir", str(cache_dir)]) == 0
    record = json.loads((tmp_path / "res/micro-file/cells/micro/elbo-dpo/arith/seed0.json").read_text())
    assert record["config"]["unit"]["method"]["config"]["n_t"] == 2 and record["config"]["unit"]["budget"]["steps"] == 2
    assert record["n_eval"] == 6


@pytest.mark.parametrize("change,message", [
    (("[budget]", "[budgets]"), r"unknown table \[budgets\]"),
    (("n_heldout = 4", "n_heldout = 4\nn_evals = 3"), r"\[suite\]: unknown key 'n_evals' \(did you mean 'n_eval'\?\)"),
    (("steps = 2", 'steps = "two"'), r"\[budget\] key 'steps' must be int, got str"),
    (('tasks = ["arith"]', 'tasks = ["arithm"]'), r"\[suite\] key 'tasks': unknown task 'arithm' \(did you mean"),
    (('families = ["micro"]', 'families = ["nano"]'), r"\[suite\] key 'families': unknown family 'nano'"),
    (("n_t = 2", "n_tt = 2"), r"\[methods.elbo-dpo\]: unknown key 'n_tt' \(did you mean 'n_t'\?\)"),
    (("n_t = 2", 'n_t = "2"'), r"\[methods.elbo-dpo\] key 'n_t' must be int"),
    (('name = "micro-file"\n', ""), r"\[suite\] is missing key 'name'"),
    (("[suite]", "[suite"), "not valid TOML"),
])
def test_malformed_suite_files_name_file_table_and_key(micro_plugins, tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(MICRO_TOML.replace(*change))
    with pytest.raises(SuiteError, match=message) as err:
        load_suite_file(path)
    assert str(path) in str(err.value)


def test_run_with_a_bad_suite_file_exits_2_before_any_work(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[suite]\nname = 'x'\nfamilies = ['tiny']\ntasks = ['arith']\ncolour = 'red'\n")
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "res")]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err and not (tmp_path / "res").exists()


def test_list_says_where_each_suite_comes_from(capsys):
    assert main(["--plugins", str(PLUGINS / "micro_suite.py"), "list", "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)["suite_sources"]
    assert sources["tiny"].endswith("tiny.toml") and sources["paper"].endswith("paper.toml")
    assert sources["paper-mini"].endswith("paper-mini.toml") and sources["micro"].startswith("python")
