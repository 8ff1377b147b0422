"""``run --executor ray`` on a local cluster: the same records as the serial executor; a killed worker's cell
is retried; one that keeps dying is reported after its retries, and the other cells still land."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")

PLUGINS = Path(__file__).parent / "plugins"


def _records(root: Path) -> dict:
    out = {}
    for f in sorted(root.glob("cells/**/*.json")):
        if f.name.endswith(".samples.json"):
            continue
        rec = json.loads(f.read_text())
        out[str(f.relative_to(root))] = {"config_hash": rec["config_hash"], "metrics": rec["metrics"],
                                         "info": {k: v for k, v in rec["info"].items() if k != "teacher"}}
    return out


@pytest.fixture()
def env(monkeypatch, tmp_path, cache_dir, micro_plugins):
    monkeypatch.setenv("DLLM_BENCH_THREADS", "1")
    monkeypatch.setenv("DLLM_BENCH_CACHE", str(cache_dir))
    monkeypatch.setenv("BENCH_TEST_CRASH_MARKER", str(tmp_path / "markers"))
    from benchmark.core.registry import load_plugin_file

    load_plugin_file(PLUGINS / "crashing_methods.py")
    return micro_plugins + [str(PLUGINS / "crashing_methods.py")]


def test_ray_gives_the_serial_records_and_retries_a_killed_worker(env, tmp_path, cache_dir, monkeypatch):
    from benchmark.harness.runner import RunConfig, run

    monkeypatch.setenv("JUDGE_API_KEY", "sk-ray-secret-9817")  # must not land in Ray's session files
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))

    methods = ["base", "ar-dpo", "ar-map", "ar-map-auto", "elbo-dpo"]
    common = dict(suite="micro", tasks=["arith"], seeds=2, cache_dir=cache_dir, plugins=env)
    run(RunConfig(methods=methods, out=tmp_path / "serial", **common))
    run(RunConfig(methods=methods + ["crash-once"], out=tmp_path / "ray", executor="ray", **common))
    serial, ray_ = _records(tmp_path / "serial" / "micro"), _records(tmp_path / "ray" / "micro")
    crashed = {k: v for k, v in ray_.items() if "/crash-once/" in k}
    assert len(crashed) == 2 and all(v["info"]["retried"] is True for v in crashed.values())
    assert sorted(os.listdir(tmp_path / "markers")) == ["arith-0", "arith-1"], "each crashed once"
    ray_ = {k: v for k, v in ray_.items() if k not in crashed}
    assert len(serial) == 2 * len(methods) and ray_.keys() == serial.keys()
    for name in serial:
        assert ray_[name] == serial[name], name
    teachers = list((tmp_path / "ray" / "micro" / "artifacts").glob("ar-dpo-teacher-*"))
    assert len(teachers) == 2, "one AR teacher per seed, shared by ar-dpo, ar-map and ar-map-auto"
    assert not list((tmp_path / "ray" / "micro").glob(".work-*")), "no work folder left behind"
    files = [p for p in ray_tmp.rglob("*") if p.is_file() and not p.is_socket() and p.stat().st_size < 50_000_000]
    leaked = [str(p) for p in files if b"sk-ray-secret-9817" in p.read_bytes()]
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert any(p.suffix in (".log", ".out", ".err") for p in files) and not leaked, leaked


def test_a_cell_that_keeps_dying_is_reported_after_its_retries(env, tmp_path, cache_dir):
    from benchmark.core.errors import BenchmarkError
    from benchmark.harness.runner import RunConfig, run

    cfg = RunConfig(suite="micro", methods=["base", "crash-always"], tasks=["arith"], seeds=1, cache_dir=cache_dir,
                    plugins=env, out=tmp_path / "out", executor="ray", max_retries=1)
    with pytest.raises(BenchmarkError, match=r"1 unit\(s\) failed after retries: micro/crash-always/arith/seed0"):
        run(cfg)
    assert (tmp_path / "out" / "micro" / "leaderboard.json").is_file(), "the finished cells still make a board"
    records = _records(tmp_path / "out" / "micro")
    assert [k for k in records] == ["cells/micro/base/arith/seed0.json"]


def test_ray_runs_a_preference_data_suite_as_the_serial_executor_does(env, tmp_path, cache_dir):
    """Cells of one trained model (one per eval task) may run in parallel: the model is built once under
    its lock and the records equal the serial run's."""
    from benchmark.harness.runner import RunConfig, run
    from tests.test_preference_suite import _plain_pairs, _suite

    suite = _suite(tmp_path, "pref-ray", "micro", f'format = "plain"\npath = "{_plain_pairs(tmp_path)}"',
                   ["base", "ar-dpo", "elbo-dpo"])
    common = dict(suite=str(suite), seeds=1, cache_dir=cache_dir, plugins=env)
    run(RunConfig(out=tmp_path / "serial", **common))
    run(RunConfig(out=tmp_path / "ray", executor="ray", **common))
    serial, ray_ = _records(tmp_path / "serial" / "pref-ray"), _records(tmp_path / "ray" / "pref-ray")
    assert len(serial) == 6 and ray_ == serial
