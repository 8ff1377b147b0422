"""A plugin eval task for tests: the share of prompts with at most N words (needs no model)."""

from benchmark.core.data import text_field
from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import EvalRun, EvalTask, Option


@register_eval_task("short-prompts")
class ShortPromptsTask(EvalTask):
    name = "short-prompts"
    description = "share of prompts with at most max_words words (a plugin example)"
    options = {"max_words": Option(5, "word limit", int)}

    def parse_row(self, row: dict, where: str) -> str:
        return text_field(row, "instruction", where)

    def needs_model(self, run: EvalRun) -> bool:
        return False

    def evaluate(self, lm, items: list[str], run: EvalRun):
        short = [len(p.split()) <= run.options["max_words"] for p in items]
        metrics = {"short": {"value": 100 * sum(short) / len(short), "stderr": None, "higher_is_better": True,
                             "display": "Short prompts"}}
        return metrics, [{"prompt": p, "short": s} for p, s in zip(items, short)]
