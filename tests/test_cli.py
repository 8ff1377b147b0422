"""Command-line behaviour: clear errors, listing, leaderboard rebuild."""

import json

import pytest

from benchmark.cli import main
from tests.conftest import PLUGINS


def test_unknown_method_and_task(capsys, tmp_path):
    assert main(["run", "--methods", "ar-mapp,nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown method(s) 'ar-mapp' (did you mean 'ar-map'?), 'nope'" in err
    assert "choices: " in err and "elbo-dpo" in err
    assert main(["run", "--tasks", "arithm", "--out", str(tmp_path)]) == 2
    assert "unknown task(s) 'arithm' (did you mean 'arith'?)" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists(), "nothing is written for a bad command"


def test_plugin_that_fails_to_import(capsys, tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom at import')\n")
    assert main(["--plugins", str(bad), "list"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "boom at import" in err


def test_list_json(capsys):
    assert main(["--plugins", str(PLUGINS / "constant_method.py"), "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {"methods", "tasks", "eval_tasks", "families", "suites", "preference_data"} <= set(listing)
    assert "eval tasks" not in listing
    assert {"base", "ar-dpo", "ar-map", "elbo-dpo", "plugin-copy"} <= set(listing["methods"])
    assert {"arith", "facts", "listing"} <= set(listing["tasks"])
    assert "tiny" in listing["families"] and "tiny" in listing["suites"]


def test_bad_flag_values():
    with pytest.raises(SystemExit) as err:
        main(["run", "--seeds", "0"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        main(["run", "--all", "--methods", "base"])


def test_leaderboard_without_results(capsys, tmp_path):
    assert main(["leaderboard", "--out", str(tmp_path)]) == 2
    assert "no results" in capsys.readouterr().err


@pytest.mark.parametrize("alias,form", [("lm-eval", "eval --lm-eval"), ("answers", "eval --prompts"),
                                        ("winrate", "eval --answers")])
def test_old_evaluation_commands_say_which_eval_form_replaces_them(alias, form, capsys):
    with pytest.raises(SystemExit):
        main([alias, "--help"])
    assert form in " ".join(capsys.readouterr().out.split())


def test_abbreviated_flags_are_refused(capsys):
    with pytest.raises(SystemExit) as err:
        main(["run", "--seed", "3"])  # argparse's default would take it for --seeds
    assert err.value.code == 2 and "--seed" in capsys.readouterr().err


def test_eval_needs_exactly_one_form(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--model-dir", "x"])
    assert "one of the arguments --task --lm-eval --prompts --answers is required" in capsys.readouterr().err
    assert main(["eval", "--answers", "a.jsonl"]) == 2
    assert "--answers needs --base" in capsys.readouterr().err


def test_import_benchmark_registers_the_lm_eval_models_without_torch():
    import subprocess
    import sys

    code = ("import sys, benchmark; from lm_eval.api.registry import model_registry; "
            "assert {'dllm', 'bench-ar'} <= set(model_registry.keys()); "
            "assert 'torch' not in sys.modules, 'registration must stay lazy'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]


def test_threads_flag_sets_torch_threads_and_is_recorded(tmp_path):
    import subprocess
    import sys

    code = ("import sys, torch; from benchmark.cli import main, set_threads; set_threads(1); "
            "from benchmark.core.provenance import apply_threads, hardware; apply_threads(); "
            "assert torch.get_num_threads() == 1 and hardware()['torch']['threads'] == 1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
