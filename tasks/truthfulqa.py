"""TruthfulQA MC2 (817 questions), the AR-MAP way: length-normalised likelihood of every choice
(exact for AR models, ELBO or the one-pass all-masked score for DLLMs, prediction shift right), a
softmax per question, the mass on the true choices.

Local file: ``TruthfulQA.csv`` (``Question``, ``Best Answer``, ``Correct Answers``, ``Incorrect
Answers``, ``;``-separated), or ``mc_task.json`` (``question``, ``mc2_targets`` {answer: 0/1}).
Hub: ``truthful_qa``, config ``multiple_choice``, split ``validation`` (``mc2_targets``). The likelihood
budget and kind are model arguments (``mc_num``, ``likelihood``).
"""

from pathlib import Path

from benchmark.core.data import DataError, text_field
from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import EvalRun, EvalTask, HubSource, Option, mean_and_stderr
from benchmark.eval.loaders import MultipleChoice, load_truthfulqa_csv, load_truthfulqa_mc_json


@register_eval_task("truthfulqa-mc2")
class TruthfulQAMC2Task(EvalTask):
    name = "truthfulqa-mc2"
    description = "TruthfulQA MC2 with length-normalised likelihoods (ELBO for DLLMs)"
    hub = HubSource("truthful_qa", "multiple_choice", "validation")
    options = {"prompt": Option("Q: {q}\nA:", "context before each choice; {q} is the question")}

    def load_file(self, path: Path) -> list[MultipleChoice]:
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            return load_truthfulqa_csv(path)
        if suffix in (".json", ".jsonl"):
            return load_truthfulqa_mc_json(path)
        raise DataError(f"{path}: truthfulqa-mc2 reads the TruthfulQA CSV (Question, Best Answer, ...) or "
                        "mc_task.json (question, mc2_targets)")

    def parse_row(self, row: dict, where: str) -> MultipleChoice:  # rows of the hub's multiple_choice config
        question = text_field(row, "question", where)
        targets = row.get("mc2_targets")
        if not isinstance(targets, dict) or not isinstance(targets.get("choices"), list) \
                or not isinstance(targets.get("labels"), list) or len(targets["choices"]) != len(targets["labels"]):
            raise DataError(f"{where}: field 'mc2_targets' needs equally long lists 'choices' and 'labels'")
        true = tuple(c for c, label in zip(targets["choices"], targets["labels"]) if label == 1)
        false = tuple(c for c, label in zip(targets["choices"], targets["labels"]) if label == 0)
        if not true or not false:
            raise DataError(f"{where}: field 'mc2_targets' needs at least one true and one false choice")
        return MultipleChoice(question, true[0], true, false)

    def evaluate(self, lm, items: list[MultipleChoice], run: EvalRun):
        from benchmark.eval.truthfulqa import mc2_scores

        scores = mc2_scores(lm, items, run.options["prompt"])
        mean, se = mean_and_stderr(scores)
        metrics = {"mc2": {"value": 100 * mean, "stderr": 100 * se, "higher_is_better": True,
                           "display": "MC2 (length-normalised)"}}
        return metrics, [{"question": i.question, "mc2": s} for i, s in zip(items, scores)]
