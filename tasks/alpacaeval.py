"""AlpacaEval (805 instructions): win rate of a model's answers against the base model's own answers,
with a pluggable judge, under the fair (default) or the paper's protocol; also a length-adjusted rate
(one pair; not AlpacaEval 2's LC).

Local file: jsonl with ``instruction`` (``output``, ``generator``, ``dataset`` ignored). Hub:
``tatsu-lab/alpaca_eval``, config ``alpaca_eval``, split ``eval``. Options: see
``benchmark.eval.pairwise`` (``--set base=alpaca-dream-base.jsonl`` is required).
"""

from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import HubSource
from benchmark.eval.pairwise import PairwiseTask


@register_eval_task("alpacaeval")
class AlpacaEvalTask(PairwiseTask):
    name = "alpacaeval"
    description = "AlpacaEval: judged win rate vs the base model's answers (fair or armap protocol), LC too"
    hub = HubSource("tatsu-lab/alpaca_eval", "alpaca_eval", "eval")
