"""MATH500 (500 problems): the final answer checked by math-verify (symbolic equivalence).

Local file: jsonl with ``problem`` and ``answer`` (extra fields such as ``solution``, ``subject`` and
``level`` are ignored). Hub: ``HuggingFaceH4/MATH-500``, split ``test``.
"""

from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import HubSource
from benchmark.eval.math_answers import FinalAnswerTask


@register_eval_task("math500")
class Math500Task(FinalAnswerTask):
    name = "math500"
    description = "MATH500: final-answer accuracy by math-verify (symbolic equivalence), mean over samples"
    version = "2"  # math-verify replaced our normalisation
    scorer = "math"
    hub = HubSource("HuggingFaceH4/MATH-500", None, "test")
