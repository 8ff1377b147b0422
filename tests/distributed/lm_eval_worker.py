"""lm-eval through the ``dllm`` model class, started by ``accelerate launch`` (or plainly): rank 0 writes
the metrics and every sample's responses to OUT. Used by tests/test_distributed.py."""

import json
import sys

import lm_eval
import torch
from lm_eval.tasks import TaskManager

from benchmark.eval.lm_eval_model import BenchLM

model_path, task_dir, out = sys.argv[1:4]
torch.set_num_threads(1)
lm = BenchLM(model_path, mc_num=4, batch_size=3, max_new_tokens=8, seed=5)
res = lm_eval.simple_evaluate(model=lm, tasks=["gsm8k_local", "truthfulqa_mc2_local"], log_samples=True,
                              task_manager=TaskManager(include_path=task_dir, include_defaults=False))
if lm.rank == 0:
    samples = {task: sorted([[s["doc_id"], s["resps"]] for s in rows]) for task, rows in res["samples"].items()}
    metrics = {task: {k: v for k, v in m.items() if isinstance(v, float)} for task, m in res["results"].items()}
    with open(out, "w") as f:
        json.dump({"world_size": lm.world_size, "metrics": metrics, "samples": samples}, f, default=str)
