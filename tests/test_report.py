"""The HTML report: self-contained, rendered by headless Chromium, its numbers equal the leaderboard CSV."""

import csv
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from benchmark.cli import main
from tests.test_statistics import write


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (.ci/run does)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


class Cells(HTMLParser):
    """The leaderboard table's cells: (data-col, text) per row."""

    def __init__(self):
        super().__init__()
        self.rows, self.col, self.in_table = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "leaderboard":
            self.in_table = True
        elif self.in_table and tag == "tr":
            self.rows.append({})
        elif self.in_table and tag == "td":
            self.col = attrs.get("data-col")
            self.rows[-1][self.col] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag == "td":
            self.col = None

    def handle_data(self, data):
        if self.in_table and self.col:
            self.rows[-1][self.col] += data


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(3)
    for seed in range(2):
        prompts = [f"s{seed}-q{i}" for i in range(60)]
        base = (rng.random(60) < 0.4).astype(int).tolist()
        for task in ("alpha", "beta"):
            write(tmp_path / "suite", "base", task, seed, base, prompts)
            better = [1 if b or rng.random() < 0.5 else 0 for b in base]
            write(tmp_path / "suite", "better", task, seed, better, prompts)
            write(tmp_path / "suite", "worse", task, seed, [b if rng.random() < 0.7 else 0 for b in base], prompts)
    return tmp_path


def test_report_renders_and_shows_the_leaderboard_numbers(store, tmp_path):
    browser = chromium()
    assert main(["leaderboard", "--out", str(store), "--suite", "suite"]) == 0
    assert main(["report", "--out", str(store), "--suite", "suite"]) == 0
    page = store / "suite" / "report.html"
    text = page.read_text()
    assert "<svg" in text and not re.search(r"(src|href)=[\"']https?://", text), "self-contained: no remote resources"
    shot = tmp_path / "shot.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1800"]
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01, "the screenshot is blank"
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    parser = Cells()
    parser.feed(dom)
    shown = {r["method"]: r for r in parser.rows if "method" in r}
    with (store / "suite" / "leaderboard.csv").open() as fh:
        board = {r["method"]: r for r in csv.DictReader(fh)}
    assert set(shown) == set(board) == {"base", "better", "worse"}
    for method, row in board.items():
        assert shown[method]["rank"] == row["rank"]
        for col in ("alpha", "beta", "average"):
            value, lo, hi = (float(row[c]) for c in (col, f"{col}_lo", f"{col}_hi"))
            assert shown[method][col].split() == [f"{value:.1f}", f"[{lo:.1f},", f"{hi:.1f}]"], (method, col)
        if method != "base":
            assert shown[method]["average_vs_base"] == f"{float(row['average_vs_base']):+.1f}"
