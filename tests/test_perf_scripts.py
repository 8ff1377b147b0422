"""The benchmark scripts in perf/ still run and print their figures (at toy sizes; no timing asserted)."""

import re
import subprocess
import sys
from pathlib import Path

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
