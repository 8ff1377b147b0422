"""lm-eval task folders for local files, so the paper's tasks run offline through ``simple_evaluate``.

    write_local_tasks(DIR, gsm8k="gsm8k_test.jsonl", truthfulqa="TruthfulQA.csv", prompt="Question: {q}")

writes ``gsm8k_local.yaml`` (generate_until, exact match of the last number, answers in GSM8K's
``... #### 42`` format) and ``truthfulqa_mc2_local.yaml`` (multiple_choice, MC2 = probability mass on
the true answers after a softmax over the choices' log-likelihoods) plus the data they read. Use the
folder as lm-eval's ``include_path``.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.core.data import DataError, iter_jsonl
from benchmark.eval.ifeval import load_ifeval
from benchmark.eval.loaders import load_truthfulqa_csv

MC2_UTILS = '''"""MC2 for the local TruthfulQA task (written by benchmark.eval.local_tasks)."""
import math


def process_results_mc2(doc, results):
    lls = [ll for ll, _ in results]
    labels = doc["mc2_targets"]["labels"]
    top = max(lls)
    weights = [math.exp(ll - top) for ll in lls]
    true = sum(w for w, label in zip(weights, labels) if label == 1)
    return {"mc2": true / sum(weights)}
'''


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML scalar


def _json_task_header(task: str, split: str, data: Path) -> str:
    """The YAML lines every local task shares: its name and the jsonl it reads."""
    return (f"task: {task}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
            f"    {split}: {_yaml_str(str(data.resolve()))}\n")


def write_local_tasks(out_dir: str | Path, gsm8k: str | Path | None = None, truthfulqa: str | Path | None = None,
                      prompt: str = "Question: {q}\nAnswer:", max_gen_toks: int = 256,
                      ifeval: str | Path | None = None) -> list[str]:
    """Write task YAMLs (and converted data) for the given files; return the task names."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    text = _yaml_str(prompt.replace("{q}", "{{question}}"))
    if gsm8k is not None:
        rows = []
        for where, row in iter_jsonl(gsm8k):
            if not isinstance(row, dict) or not isinstance(row.get("question"), str) \
                    or not isinstance(row.get("answer"), str) or "####" not in row["answer"]:
                raise DataError(f"{where}: needs string fields 'question' and 'answer' (ending in '#### <number>')")
            rows.append({"question": row["question"], "answer": row["answer"]})
        data = out_dir / "gsm8k_local.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        (out_dir / "gsm8k_local.yaml").write_text(_json_task_header("gsm8k_local", "test", data) + f"""test_split: test
output_type: generate_until
doc_to_text: {text}
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: ["Question:", "\\n\\n"]
  max_gen_toks: {max_gen_toks}
  do_sample: false
filter_list:
  - name: last-number
    filter:
      - function: regex
        regex_pattern: "(-?[0-9][0-9,]*(?:\\\\.[0-9]+)?)"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_punctuation: true
    regexes_to_ignore: [",", "\\\\$"]
metadata:
  version: 1.0
""")
        names.append("gsm8k_local")
    if truthfulqa is not None:
        items = load_truthfulqa_csv(truthfulqa)
        data = out_dir / "truthfulqa_mc2_local.jsonl"
        data.write_text("".join(json.dumps({"question": i.question, "mc2_targets": {
            "choices": list(i.true) + list(i.false), "labels": [1] * len(i.true) + [0] * len(i.false)}}) + "\n"
            for i in items))
        (out_dir / "utils.py").write_text(MC2_UTILS)
        (out_dir / "truthfulqa_mc2_local.yaml").write_text(
            _json_task_header("truthfulqa_mc2_local", "validation", data) + f"""validation_split: validation
output_type: multiple_choice
doc_to_text: {text}
doc_to_target: 0
doc_to_choice: "{{{{mc2_targets.choices}}}}"
process_results: !function utils.process_results_mc2
metric_list:
  - metric: mc2
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""")
        names.append("truthfulqa_mc2_local")
    if ifeval is not None:

        rows = load_ifeval(ifeval)
        data = out_dir / "ifeval_local.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        (out_dir / "ifeval_utils.py").write_text(
            '"""IFEval checkers, offline (written by benchmark.eval.local_tasks)."""\n'
            "from benchmark.eval.ifeval import agg_inst_level_acc, process_results  # noqa: F401\n")
        (out_dir / "ifeval_local.yaml").write_text(
            _json_task_header("ifeval_local", "train", data) + f"""test_split: train
output_type: generate_until
doc_to_text: {_yaml_str(prompt.replace("{q}", "{{prompt}}"))}
doc_to_target: 0
generation_kwargs:
  until: []
  do_sample: false
  max_gen_toks: {max_gen_toks}
process_results: !function ifeval_utils.process_results
metric_list:
  - metric: prompt_level_strict_acc
    aggregation: mean
    higher_is_better: true
  - metric: inst_level_strict_acc
    aggregation: !function ifeval_utils.agg_inst_level_acc
    higher_is_better: true
  - metric: prompt_level_loose_acc
    aggregation: mean
    higher_is_better: true
  - metric: inst_level_loose_acc
    aggregation: !function ifeval_utils.agg_inst_level_acc
    higher_is_better: true
metadata:
  version: 4.0
""")
        names.append("ifeval_local")
    return names
