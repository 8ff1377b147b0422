"""The pairwise evaluation task behind AlpacaEval and Arena-Hard: answer each prompt, then judge the
answer against the base model's own answer to the same prompt.

Options (``--set name=value``): ``base`` (the base model's answers, required), ``judge`` (rule, openai,
reward-model or a plugin), ``judge_model``, ``protocol`` (fair: both orders, ties 1/2, the default;
armap: the paper's code), ``answers`` (judge the answers in this file instead of generating them: no
model needed), ``max_new_tokens``, ``allow_empty`` (judge empty answers instead of refusing the file:
the released base-answer files contain a few). Reported: the win rate with a bootstrap standard error,
and the length-adjusted win rate of this one pair (see ``winrate.length_adjusted``; not AlpacaEval 2's
length-controlled number, whose GLM also fits instruction difficulty over many models).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmark.core.data import DataError, text_field
from benchmark.eval.eval_task import EvalRun, EvalTask, HubSource, Option, chat, percent
from benchmark.eval.judges import JUDGES, make_judge
from benchmark.eval.loaders import Answer, load_answers, pair_answers


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


class PairwiseTask(EvalTask):
    """Prompts with an ``instruction`` field; subclasses set the name, hub source and prompt field."""
    prompt_field: ClassVar[str] = "instruction"
    hub: ClassVar[HubSource | None] = None
    identity_options = ("protocol", "judge", "judge_model")
    options = {
        "base": Option(None, "jsonl of the base model's answers (raw_prompt + responses, or instruction + output)",
                       Path),
        "judge": Option("rule", "judge plugin: rule, openai, reward-model"),
        "judge_model": Option(None, "endpoint model name (openai) or classifier folder (reward-model)"),
        "protocol": Option("fair", "fair (both orders, ties 1/2) or armap (base first, ties win)"),
        "answers": Option(None, "judge these answers (jsonl) instead of generating them", Path),
        "max_new_tokens": Option(512, "tokens per generated answer", int),
        "allow_empty": Option(False, "judge empty answers instead of refusing the file", _bool),
    }

    def parse_row(self, row: dict, where: str) -> str:
        return text_field(row, self.prompt_field, where)

    def needs_model(self, run: EvalRun) -> bool:
        return run.options.get("answers") is None

    def validate(self, run: EvalRun) -> None:
        opts = run.options
        if opts["base"] is None:
            raise DataError(f"task {self.name!r} needs the base model's answers: --set base=FILE.jsonl")
        if opts["protocol"] not in ("fair", "armap"):
            raise DataError(f"--set protocol={opts['protocol']!r}: choose fair or armap")
        JUDGES.get(opts["judge"])  # an unknown judge is an error with suggestions
        if opts["judge"] == "reward-model" and not opts["judge_model"]:
            raise DataError("--set judge=reward-model needs --set judge_model=DIR (a sequence-classification model)")
        load_answers(opts["base"], opts["allow_empty"])  # malformed rows are reported before generating

    def evaluate(self, lm, items: list[str], run: EvalRun) -> tuple[dict[str, dict], list[dict]]:
        from benchmark.eval.lm_eval_model import Request
        from benchmark.eval.winrate import length_adjusted, win_rate

        opts = run.options  # checked by validate() before the model was loaded
        base = load_answers(opts["base"], opts["allow_empty"])
        if opts["answers"] is not None:
            given = {a.prompt.strip(): a for a in load_answers(opts["answers"], opts["allow_empty"])}
            missing = [p for p in items if p.strip() not in given]
            if missing:
                raise DataError(f"{opts['answers']}: no answer for {len(missing)} of the task's prompts, "
                                f"e.g. {missing[0][:80]!r}")
            new = [given[p.strip()] for p in items]
            source = str(opts["answers"])
        else:
            kwargs = {"until": [], "max_gen_toks": opts["max_new_tokens"]}
            outputs = lm.generate_until([Request(chat(lm, p), kwargs) for p in items])
            new = [Answer(p, o) for p, o in zip(items, outputs)]
            source = "generated"
        triples = pair_answers(new, base, source, str(opts["base"]))
        judge = make_judge(opts["judge"], opts["judge_model"])
        result = win_rate(triples, judge, opts["protocol"], seed=run.seed)
        lc, lc_se = length_adjusted(result.per_item, [len(n) for _, n, _ in triples],
                                      [len(b) for _, _, b in triples], seed=run.seed)
        name = f"win_rate_{opts['protocol']}"
        metrics = {
            name: {"value": result.value, "stderr": result.stderr, "higher_is_better": True,
                   "display": f"Win rate vs base ({opts['protocol']}, judge {opts['judge']})"},
            "length_adjusted_win_rate": {"value": lc, "stderr": lc_se, "higher_is_better": True,
                                         "display": "Length-adjusted win rate (one-pair logistic model; "
                                                    "not AlpacaEval 2 LC)"},
            "parsed": percent(result.n_parsed / max(1, result.n), None, "Judged pairs parsed"),
        }
        samples = [{"prompt": p, "response": n, "base_response": b, "outcome": o}
                   for (p, n, b), o in zip(triples, result.per_item)]
        return metrics, samples
