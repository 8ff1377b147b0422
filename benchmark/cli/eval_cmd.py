"""``eval``: score one checkpoint (or an answers file). One command, four forms:

    eval --task NAME --model-dir DIR [--data FILE] [--set K=V]...   one of our eval tasks, stored as a cell
    eval --lm-eval A,B --model-dir DIR [--include-path DIR]          lm-eval tasks, each stored as a cell
    eval --prompts P.jsonl --answers-out A.jsonl --model-dir DIR     answers only (AlpacaEval/Arena-Hard format)
    eval --answers A.jsonl --base B.jsonl [--judge J --protocol P]   win rate of one answers file against another

The older commands ``lm-eval``, ``answers`` and ``winrate`` are aliases of the last three forms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli._common import add_checkpoint, model_args, names, positive
from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import EVAL_TASKS
from benchmark.core.store import check_output_dir, check_output_file, dumps, refuse_overlap
from benchmark.eval.eval_task import EvalRun, HubSource
from benchmark.eval.judges import make_judge
from benchmark.eval.loaders import load_answers, pair_answers
from benchmark.eval.local_tasks import write_local_tasks
from benchmark.harness.cells import default_method_name, score_checkpoint, score_with_lm_eval


def _round(value):
    return None if value is None else round(value, 2)


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", allow_abbrev=False,
                        help="score one checkpoint: an eval task, lm-eval tasks, answers, or a win rate of answers",
                        description=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    form = ev.add_mutually_exclusive_group(required=True)
    form.add_argument("--task", help="eval task: alpacaeval, arena-hard, truthfulqa-mc2, gsm8k, math500, ifeval")
    form.add_argument("--lm-eval", type=names, metavar="A,B", dest="lm_eval_tasks", help="lm-eval task names")
    form.add_argument("--prompts", type=Path, help="jsonl with an 'instruction' field: write answers (--answers-out)")
    form.add_argument("--answers", type=Path, help="jsonl of a method's answers: win rate against --base")
    add_checkpoint(ev, model_required=False)
    task = ev.add_argument_group("--task")
    task.add_argument("--data", type=Path, help="local file (jsonl; TruthfulQA: the CSV); default: the hub dataset")
    task.add_argument("--hub-id", help="hub dataset id (or a local dataset folder) instead of the task's default")
    task.add_argument("--hub-config", help="dataset config for --hub-id")
    task.add_argument("--hub-split", help="split for --hub-id (default: the task's)")
    task.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="options",
                      help="task option, e.g. base=FILE judge=rule protocol=armap samples=4 (repeatable)")
    task.add_argument("--show-options", action="store_true", help="print the task's --set options and exit")
    task.add_argument("--force", action="store_true", help="rerun even if the cell is stored with the same config")
    ev.add_argument("--model-args", default="", metavar="K=V,K=V",
                    help="model class arguments: steps, block_length, temperature, top_p, order, threshold, "
                         "max_new_tokens, mc_num, likelihood, shift, batch_size, device (auto), dtype (auto)")
    ev.add_argument("--seed", type=int, default=0)
    le = ev.add_argument_group("--lm-eval")
    add_lm_eval_files(le)
    an = ev.add_argument_group("--prompts")
    an.add_argument("--answers-out", type=Path, help="answers jsonl to write (raw_prompt, responses)")
    an.add_argument("--max-new-tokens", type=positive, default=512, help="tokens per answer (default 512)")
    wr = ev.add_argument_group("--answers")
    add_judge(wr)
    ev.set_defaults(handler=main)


def add_lm_eval_files(group) -> None:
    group.add_argument("--include-path", type=Path, help="folder of task YAMLs (offline; only these tasks)")
    group.add_argument("--gsm8k", type=Path, help="write a local GSM8K-format task for this jsonl into --include-path")
    group.add_argument("--truthfulqa", type=Path, help="write a local TruthfulQA MC2 task for this CSV")
    group.add_argument("--ifeval", type=Path, help="write a local IFEval task for this jsonl (google/IFEval rows)")
    group.add_argument("--prompt", default="Question: {q}\nAnswer:", help="prompt template of the local tasks")


def add_judge(group) -> None:
    group.add_argument("--base", type=Path, help="jsonl of the base model's answers (the reference)")
    group.add_argument("--judge", default="rule", help="judge plugin: rule, openai, reward-model (default: rule)")
    group.add_argument("--judge-model", help="judge model: endpoint model name (openai) or folder (reward-model)")
    group.add_argument("--protocol", choices=["fair", "armap"], default="fair",
                       help="fair: both orders, ties 1/2 (default); armap: base first, ties win (paper's code)")
    group.add_argument("--allow-empty", action="store_true", help="judge empty answers instead of refusing the file")


def main(args) -> int:
    if args.prompts and args.answers_out is not None:
        check_output_file(args.answers_out, "--answers-out")
    elif args.task or args.lm_eval_tasks:
        check_output_dir(args.out, "--out")
    if args.task:
        return evaluate_task(args)
    if args.lm_eval_tasks:
        return evaluate_lm_eval(args, model_args(args.model_args))
    if args.prompts:
        return write_answers(args, model_args(args.model_args))
    return judge_answers(args)


def evaluate_task(args) -> int:
    task = EVAL_TASKS.get(args.task)()
    if args.show_options:
        hub = f"{task.hub.id} (config {task.hub.config}, split {task.hub.split})" if task.hub else "none"
        print(f"{task.name}: {task.description}\nhub dataset: {hub}\noptions (--set NAME=VALUE):")
        for name, opt in task.options.items():
            print(f"  {name:<15} {opt.help} (default: {opt.default!r})")
        return 0
    raw = {}
    for item in args.options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchmarkError(f"--set expects NAME=VALUE, got {item!r}")
        raw[key.strip()] = value
    hub = None
    if args.hub_id:
        default = task.hub or HubSource(args.hub_id)
        hub = HubSource(args.hub_id, args.hub_config, args.hub_split or default.split)
    run = EvalRun(data=args.data, hub=hub, limit=args.limit, seed=args.seed, options=task.resolve_options(raw))
    parsed = model_args(args.model_args)  # checked before anything is loaded
    metrics = score_checkpoint(args.task, args.model_dir, args.kind, run, args.out / args.suite, args.family,
                            args.method, model_args=parsed, force=args.force)
    print(dumps({k: _round(v["value"]) for k, v in metrics.items()}))
    return 0


def evaluate_lm_eval(args, parsed_model_args: dict) -> int:
    if args.model_dir is None:
        raise BenchmarkError("--lm-eval needs --model-dir (a checkpoint folder)")
    if args.gsm8k or args.truthfulqa or args.ifeval:

        if not args.include_path:
            raise BenchmarkError("--gsm8k/--truthfulqa/--ifeval need --include-path (where the task YAMLs go)")
        write_local_tasks(args.include_path, gsm8k=args.gsm8k, truthfulqa=args.truthfulqa, prompt=args.prompt,
                          ifeval=args.ifeval)
    results = score_with_lm_eval(args.model_dir, args.kind, args.lm_eval_tasks, args.include_path,
                                    args.out / args.suite, args.family,
                                    args.method or default_method_name(args.model_dir, EvalRun()), seed=args.seed,
                                    limit=args.limit, model_args=parsed_model_args)
    print(dumps({t: {k: _round(v["value"]) for k, v in m.items()} for t, m in results.items()}, indent=2))
    return 0


def write_answers(args, settings: dict) -> int:
    from benchmark.eval.answers import generate_answers_file

    if args.model_dir is None or args.answers_out is None:
        raise BenchmarkError("--prompts needs --model-dir (the checkpoint) and --answers-out (the jsonl to write)")
    refuse_overlap(args.answers_out, "--answers-out", {"--prompts": args.prompts, "--model-dir": args.model_dir})
    n = generate_answers_file(args.model_dir, args.kind, args.prompts, args.answers_out, args.max_new_tokens,
                              args.limit, settings=settings)
    print(f"wrote {n} answers to {args.answers_out}")
    return 0


def judge_answers(args) -> int:
    from benchmark.eval.winrate import win_rate

    if args.base is None:
        raise BenchmarkError("--answers needs --base (the base model's answers, the reference)")
    new, base = load_answers(args.answers, args.allow_empty), load_answers(args.base, args.allow_empty)
    triples = pair_answers(new, base, str(args.answers), str(args.base))
    triples = triples[: args.limit] if args.limit else triples
    judge = make_judge(args.judge, args.judge_model)
    result = win_rate(triples, judge, args.protocol)
    print(dumps({"win_rate": _round(result.value), "stderr": _round(result.stderr), "n": result.n,
                 "parsed": result.n_parsed, "unparsed": result.n - result.n_parsed, "protocol": result.protocol,
                 "judge": args.judge}))
    return 0
