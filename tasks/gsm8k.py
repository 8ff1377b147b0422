"""GSM8K (1,319 test questions): exact match of the final answer, several samples per question.

Local file: jsonl with ``question`` and ``answer`` ending in ``#### <number>`` (the hub's format).
Hub: ``openai/gsm8k``, config ``main``, split ``test``.
"""

from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import HubSource
from benchmark.eval.math_answers import FinalAnswerTask


@register_eval_task("gsm8k")
class GSM8KTask(FinalAnswerTask):
    name = "gsm8k"
    description = "GSM8K: final-answer accuracy (boxed, else lm-eval strict, else flexible) + lm-eval's two"
    version = "2"  # lm-eval's extraction rules; empty boxes skipped
    hub = HubSource("openai/gsm8k", "main", "test")
