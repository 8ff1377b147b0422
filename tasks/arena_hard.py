"""Arena-Hard (500 prompts): win rate against the base model's own answers, as for AlpacaEval.

Local file: jsonl with ``instruction`` (the AR-MAP release's ``arena-hard-base.jsonl``). Hub
(``--hub-id``): rows with ``prompt``, or Arena-Hard-Auto's ``turns`` (the first turn's ``content``).
Options: see ``benchmark.eval.pairwise``.
"""

from benchmark.core.data import DataError, text_field
from benchmark.core.registry import register_eval_task
from benchmark.eval.eval_task import HubSource
from benchmark.eval.pairwise import PairwiseTask


@register_eval_task("arena-hard")
class ArenaHardTask(PairwiseTask):
    name = "arena-hard"
    description = "Arena-Hard: judged win rate vs the base model's answers (fair or armap protocol), LC too"
    hub = HubSource("lmarena-ai/arena-hard-auto-v0.1", None, "train")

    def parse_hub_row(self, row: dict, where: str) -> str:
        if "instruction" in row:
            return text_field(row, "instruction", where)
        if "prompt" in row:
            return text_field(row, "prompt", where)
        turns = row.get("turns")
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            return text_field(turns[0], "content", f"{where} turns[0]")
        raise DataError(f"{where}: needs a field 'instruction', 'prompt' or 'turns' (a list of {{content}})")
