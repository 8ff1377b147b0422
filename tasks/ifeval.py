"""IFEval (541 prompts): strict and loose accuracy, prompt and instruction level, with lm-eval's own
checkers run offline (see ``benchmark.eval.ifeval``).

Local file: jsonl with ``prompt``, ``instruction_id_list``, ``kwargs`` (and ``key``). Hub:
``google/IFEval``, split ``train`` (its only split).
"""

from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import EvalRun, EvalTask, HubSource, Option, chat, mean_and_stderr
from benchmark.eval.ifeval import aggregate_ifeval, parse_ifeval_row, per_prompt_ifeval


@register_eval_task("ifeval")
class IFEvalTask(EvalTask):
    name = "ifeval"
    description = "IFEval: prompt/instruction-level strict and loose accuracy, offline checkers"
    hub = HubSource("google/IFEval", None, "train")
    options = {"max_new_tokens": Option(1280, "tokens per answer (lm-eval's default)", int)}

    def parse_row(self, row: dict, where: str) -> dict:
        return parse_ifeval_row(row, where)

    def evaluate(self, lm, items: list[dict], run: EvalRun):
        from benchmark.eval.lm_eval_model import Request

        kwargs = {"until": [], "max_gen_toks": run.options["max_new_tokens"]}
        responses = lm.generate_until([Request(chat(lm, row["prompt"]), kwargs) for row in items])
        per = per_prompt_ifeval(items, responses)
        scores = aggregate_ifeval(per)
        metrics = {}
        for name, value in scores.items():
            stderr = None
            if name.startswith("prompt_level"):  # per-prompt 0/1: a standard error over prompts
                stderr = 100 * mean_and_stderr([float(p[name]) for p in per])[1]
            metrics[name] = {"value": value, "stderr": stderr, "higher_is_better": True,
                             "display": name.replace("_", " ")}
        samples = [{"key": row["key"], "prompt": row["prompt"], "response": r, **p}
                   for row, r, p in zip(items, responses, per)]
        return metrics, samples
