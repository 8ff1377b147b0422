"""Past one process on CPU (gloo): data-parallel lm-eval and DDP training equal one process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "distributed"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(script: str, args: list[str], processes: int) -> None:
    """``accelerate launch`` with the shipped cpu config (N gloo processes), or a plain process (N = 1).
    ``script`` is a file in tests/distributed/, or ``-m MODULE``."""
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if processes > 1:
        from benchmark.accelerate import config_file

        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file("cpu")),
               "--num_processes", str(processes), "--main_process_port", str(_free_port()),
               *(["-m", script[3:]] if script.startswith("-m ") else [str(HERE / script)]), *args]
    else:
        cmd = [sys.executable, *(["-m", script[3:]] if script.startswith("-m ") else [str(HERE / script)]), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-4000:]


def test_lm_eval_data_parallel_equals_one_process(tiny_pair, tmp_path):
    """Two ranks split the requests as lm-eval's HF model does; metrics and every response equal one
    process's (the ELBO's noise is drawn per request, so no estimate depends on its rank)."""
    from benchmark.eval.local_tasks import write_local_tasks

    gsm = tmp_path / "gsm8k.jsonl"
    rows = [{"question": f"what is {a} plus {a + 2} ?", "answer": f"so #### {2 * a + 2}"} for a in range(7)]
    gsm.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tqa = tmp_path / "tqa.csv"
    tqa.write_text("Question,Best Answer,Correct Answers,Incorrect Answers\n" + "".join(
        f"what color is {w} ?,it is red,it is red; red,it is blue; blue; green\n"
        for w in ("bama", "fig", "pear", "plum", "kiwi")))
    write_local_tasks(tmp_path / "tasks", gsm8k=gsm, truthfulqa=tqa, prompt="<|user|> {q} <|assistant|>",
                      max_gen_toks=8)
    results = {}
    for n in (1, 2):
        launch("lm_eval_worker.py", [str(tiny_pair.dllm_path), str(tmp_path / "tasks"), str(tmp_path / f"{n}.json")],
               n)
        results[n] = json.loads((tmp_path / f"{n}.json").read_text())
    assert results[2]["world_size"] == 2 and results[1]["world_size"] == 1
    # lm-eval pads the shorter rank with copies of its last request, whose answers it appends: compare the first
    first = {n: {t: [[d, [r[0] for r in resps]] for d, resps in rows] for t, rows in results[n]["samples"].items()}
             for n in (1, 2)}
    # answers equal; log-likelihoods equal to float rounding (a rank's batch holds other rows, so its padded
    # shapes and the sums' order differ: 2e-6 apart was seen on this CPU)
    for task in first[1]:
        for (doc1, resp1), (doc2, resp2) in zip(first[1][task], first[2][task], strict=True):
            assert doc1 == doc2
            for r1, r2 in zip(resp1, resp2, strict=True):
                if isinstance(r1, list):
                    assert r1[1] == r2[1] and r2[0] == pytest.approx(r1[0], rel=1e-5, abs=1e-5), (task, doc1)
                else:
                    assert r1 == r2, (task, doc1)
    assert any(r != [""] for _, r in first[1]["gsm8k_local"]), "the generation task decoded something"
    for task, metrics in results[1]["metrics"].items():
        for name, value in metrics.items():
            assert results[2]["metrics"][task][name] == pytest.approx(value, abs=1e-6), (task, name)


@pytest.mark.parametrize("method", ["elbo-dpo", "ar-dpo"])
def test_ddp_training_equals_one_process(micro_plugins, cache_dir, tmp_path, method):
    """The ``cell`` command under accelerate with 2 processes (the suite's batch of 4 split 2 + 2) gives the
    loss trajectory of one process with the whole batch: ELBO-DPO on transformers' Trainer (its noise is
    drawn per example, so ranks draw what one process draws) and the AR teacher on trl's DPOTrainer."""
    losses = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        args = ["cell", "--suite", "micro", "--method", method, "--task", "arith", "--seed", "0", "--out", str(out),
                "--cache-dir", str(cache_dir), *[a for p in micro_plugins for a in ("--plugins", p)]]
        launch("-m benchmark", args, n)
        record = json.loads((out / "micro" / "cells" / "micro" / method / "arith" / "seed0.json").read_text())
        losses[n] = record["info"]["train_losses"]
    assert len(losses[1]) == 2, losses  # micro budget: 2 steps, a loss logged per step
    assert losses[2] == pytest.approx(losses[1], rel=1e-4, abs=1e-5)
