"""``python -m benchmark``: run the suite, list what is registered, rebuild the leaderboard.

    python -m benchmark run --all                      # every method x task x 3 seeds on the tiny suite
    python -m benchmark run --methods base,ar-map --tasks arith --seeds 1
    python -m benchmark run --all --plugins my_method.py
    python -m benchmark reproduce vrpo-ablation --suite tiny --out results [--train]
    python -m benchmark transfer --student DLLM --lora ADAPTER --gamma 6 --out MERGED
    python -m benchmark winrate --answers NEW.jsonl --base BASE.jsonl --judge rule --protocol fair
    python -m benchmark list [--json]
    python -m benchmark leaderboard --out results
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from benchmark.harness.errors import BenchmarkError


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _checkpoint_args(parser: argparse.ArgumentParser, stored: bool = True, model_required: bool = True) -> None:
    """Arguments shared by the evaluation commands: the checkpoint, and where its cell is stored."""
    parser.add_argument("--model-dir", type=Path, required=model_required, help="checkpoint folder")
    parser.add_argument("--kind", choices=["dllm", "ar"], default="dllm", help="DLLM (ELBO, sampler) or AR")
    parser.add_argument("--limit", type=_positive, help="only the first N items")
    if stored:
        parser.add_argument("--method", default="base", help="method name of the stored cells (default: base)")
        parser.add_argument("--family", default="custom", help="family name of the stored cells")
        parser.add_argument("--suite", default="lm-eval", help="store folder under --out (default: lm-eval)")
        parser.add_argument("--out", type=Path, default=Path("results"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark", description=(
        "Preference alignment of diffusion LMs: AR-MAP beside DLLM-native methods, on shared tasks."))
    parser.add_argument("--plugins", action="append", default=[], metavar="FILE.py",
                        help="import a Python file that registers methods/tasks/families (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run cells (method x task x seed) and write the leaderboard")
    pick = run.add_mutually_exclusive_group()
    pick.add_argument("--all", action="store_true", help="every registered method on every suite task")
    pick.add_argument("--methods", type=_names, metavar="A,B", help="methods to run (base always runs: "
                      "it is the win-rate reference)")
    run.add_argument("--tasks", type=_names, metavar="A,B", help="tasks (default: the suite's)")
    run.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    run.add_argument("--seeds", type=_positive, default=3, help="seeds 0..N-1 per cell (default: 3)")
    run.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    run.add_argument("--force", action="store_true", help="rerun cells that already have results")
    run.add_argument("--rebuild", action="store_true", help="rebuild the suite's model family from scratch")
    run.add_argument("--keep-models", action="store_true", help="keep aligned models under OUT/SUITE/models/")
    run.add_argument("--cache-dir", type=Path, help="family cache (default: $DLLM_BENCH_CACHE or "
                     "~/.cache/dllm-align-bench)")
    run.add_argument("--plugins", action="append", default=[], metavar="FILE.py", dest="run_plugins",
                     help="as the top-level --plugins")
    run.add_argument("--dry-run", action="store_true", help="check models, data, judge and GPU; print the plan")
    run.add_argument("--data-dir", type=Path, help="folder of the paper tasks' files (paper suite)")

    lst = sub.add_parser("list", help="registered methods, tasks, eval tasks, model families and suites")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.add_argument("--plugins", action="append", default=[], metavar="FILE.py", dest="run_plugins")

    rep = sub.add_parser("reproduce", help="a paper table, ours beside the published numbers")
    rep.add_argument("name", choices=["vrpo-ablation"], help="vrpo-ablation: LLaDA 1.5 Table 2 (estimator variance)")
    rep.add_argument("--suite", default="tiny", help="suite whose family is measured (default: tiny)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results/)")
    rep.add_argument("--train", action="store_true", help="also train ELBO-DPO with each setting and score it")
    rep.add_argument("--pairs", type=_positive, default=128, help="preference pairs (paper: 128)")
    rep.add_argument("--estimates", type=_positive, default=8, help="estimates per pair, K (paper: 8)")
    rep.add_argument("--cache-dir", type=Path, help="family cache")
    rep.add_argument("--plugins", action="append", default=[], metavar="FILE.py", dest="run_plugins")

    tr = sub.add_parser("transfer", help="AR-MAP weight transfer: student + gamma * teacher task vector")
    tr.add_argument("--student", type=Path, required=True, help="DLLM checkpoint folder (safetensors)")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--lora", type=Path, help="peft LoRA adapter folder of the aligned AR teacher")
    src.add_argument("--aligned", type=Path, help="full aligned AR checkpoint (with --base)")
    tr.add_argument("--base", type=Path, help="the AR checkpoint --aligned was trained from")
    tr.add_argument("--gamma", required=True, type=_gamma, help="scale, or 'auto' (reward accuracy on --pairs)")
    tr.add_argument("--gamma-attn", type=float, help="scale for self-attention weights (default: --gamma)")
    tr.add_argument("--gamma-mlp", type=float, help="scale for MLP weights (default: --gamma)")
    tr.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    tr.add_argument("--profile", default="identity", help="key profile: identity, qwen2.5-dream, qwen3-sdar, tiny")
    tr.add_argument("--pairs", type=Path, help="held-out preference pairs (jsonl) for --gamma auto")
    tr.add_argument("--score-task", metavar="TASK",
                    help="with --gamma auto: also plot this task's score at every gamma (a diagnostic)")
    tr.add_argument("--score-limit", type=_positive, default=64, help="eval prompts for --score-task (default 64)")
    tr.add_argument("--workers", type=_positive, help="threads per shard rewrite (default: one per core, at most 8)")
    tr.add_argument("--no-shift", dest="shift", action="store_false",
                    help="the student predicts in place (SDAR/LLaDA); default: Dream's AR shift")
    tr.add_argument("--allow-partial", action="store_true", help="merge what matches, list the rest")
    tr.add_argument("--allow-pickle", action="store_true", help="accept .bin/.pt files (they can run code)")
    tr.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")

    wr = sub.add_parser("winrate", help="pairwise win rate of answers against the base model's answers")
    wr.add_argument("--answers", type=Path, required=True, help="jsonl of the method's answers")
    wr.add_argument("--base", type=Path, required=True, help="jsonl of the base model's answers (the reference)")
    wr.add_argument("--judge", default="rule", help="judge plugin: rule, openai, reward-model (default: rule)")
    wr.add_argument("--judge-model", help="judge model: endpoint model name (openai) or folder (reward-model)")
    wr.add_argument("--protocol", choices=["fair", "armap"], default="fair",
                    help="fair: both orders, ties 1/2 (default); armap: base first, ties win (paper's code)")
    wr.add_argument("--limit", type=_positive, help="only the first N prompts")
    wr.add_argument("--allow-empty", action="store_true", help="judge empty answers instead of refusing the file")

    le = sub.add_parser("lm-eval", help="lm-eval tasks on one checkpoint, stored as cells of our result store")
    _checkpoint_args(le)
    le.add_argument("--tasks", type=_names, required=True, metavar="A,B", help="lm-eval task names")
    le.add_argument("--include-path", type=Path, help="folder of task YAMLs (offline; only these tasks)")
    le.add_argument("--gsm8k", type=Path, help="write a local GSM8K-format task for this jsonl into --include-path")
    le.add_argument("--truthfulqa", type=Path, help="write a local TruthfulQA MC2 task for this CSV")
    le.add_argument("--ifeval", type=Path, help="write a local IFEval task for this jsonl (google/IFEval rows)")
    le.add_argument("--prompt", default="Question: {q}\nAnswer:", help="prompt template of the local tasks")
    le.add_argument("--mc-num", type=_positive, default=8, help="ELBO budget per likelihood (DLLM)")
    le.add_argument("--seed", type=int, default=0)

    ev = sub.add_parser("eval", help="score one checkpoint on a benchmark task (see `list`: eval tasks)")
    _checkpoint_args(ev, model_required=False)
    ev.add_argument("--task", required=True, help="alpacaeval, arena-hard, truthfulqa-mc2, gsm8k, math500, ifeval")
    ev.add_argument("--data", type=Path, help="local file (jsonl; TruthfulQA: the CSV); default: the hub dataset")
    ev.add_argument("--hub-id", help="hub dataset id (or a local dataset folder) instead of the task's default")
    ev.add_argument("--hub-config", help="dataset config for --hub-id")
    ev.add_argument("--hub-split", help="split for --hub-id (default: the task's)")
    ev.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="options",
                    help="task option, e.g. base=FILE judge=rule protocol=armap samples=4 (repeatable)")
    ev.add_argument("--model-args", default="", metavar="K=V,K=V",
                    help="model class arguments: steps, block_length, temperature, top_p, order, threshold, "
                         "max_new_tokens, mc_num, likelihood, shift, batch_size, device (auto), dtype (auto)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--show-options", action="store_true", help="print the task's --set options and exit")
    ev.add_argument("--force", action="store_true", help="rerun even if the cell is stored with the same config")

    an = sub.add_parser("answers", help="answer a prompts file (AlpacaEval/Arena-Hard) for winrate")
    _checkpoint_args(an, stored=False)
    an.add_argument("--prompts", type=Path, required=True, help="jsonl with an 'instruction' field")
    an.add_argument("--out", type=Path, required=True, help="answers jsonl (raw_prompt, responses)")
    an.add_argument("--max-new-tokens", type=_positive, default=512)
    an.add_argument("--block-length", type=_positive, help="DLLM sampler block length (Dream: 32, SDAR: 4)")
    an.add_argument("--temperature", type=float, default=0.0)
    an.add_argument("--threshold", type=float, help="DLLM confidence threshold (paper: 0.9)")

    board = sub.add_parser("leaderboard", help="rebuild the leaderboard from stored results (runs nothing)")
    board.add_argument("--out", type=Path, default=Path("results"), help="result folder (default: results/)")
    board.add_argument("--suite", default="tiny", help="suite name (default: tiny)")
    return parser


def _describe(registry, name: str) -> str:
    obj = registry.get(name)
    return getattr(obj, "description", "") or (obj.__doc__ or "").strip().splitlines()[0]


def cmd_list(args) -> int:
    from benchmark.harness import suites  # noqa: F401  (registers the built-in suites)
    from benchmark.harness.registry import EVAL_TASKS, FAMILIES, METHODS, SUITES, TASKS

    sections = {"methods": METHODS, "tasks": TASKS, "eval tasks": EVAL_TASKS, "families": FAMILIES, "suites": SUITES}
    if args.json:
        listing = {k: r.names() for k, r in sections.items()}
        listing["descriptions"] = {k: {n: _describe(r, n) for n in r.names()} for k, r in sections.items()}
        print(json.dumps(listing, indent=2))
        return 0
    for title, registry in sections.items():
        print(f"{title}:")
        for name in registry.names():
            print(f"  {name:<15} {_describe(registry, name)}")
    return 0


def cmd_run(args) -> int:
    if args.suite == "paper":
        from benchmark.harness.paper import dry_run

        lines, missing = dry_run(args.data_dir, args.seeds)
        print("\n".join(lines))
        if missing:
            print("error: the paper suite cannot run here; missing:\n  - " + "\n  - ".join(missing), file=sys.stderr)
            return 2
        if not args.dry_run:
            print("error: everything is in place, but executing the paper suite is not implemented yet; "
                  "run the methods per family with `transfer` and `lm-eval` meanwhile", file=sys.stderr)
            return 2
        return 0
    if args.dry_run:
        print("error: --dry-run is only meaningful for --suite paper (tiny runs offline in minutes)", file=sys.stderr)
        return 2
    from benchmark.harness.leaderboard import to_markdown
    from benchmark.harness.runner import RunConfig, run

    cfg = RunConfig(suite=args.suite, methods=None if args.all else args.methods, tasks=args.tasks,
                    seeds=args.seeds, out=args.out, force=args.force, rebuild=args.rebuild,
                    keep_models=args.keep_models, cache_dir=args.cache_dir)
    board = run(cfg)
    print(to_markdown(board))
    print(f"results: {args.out / args.suite}/ (leaderboard.md, .csv, .json; cells/)")
    return 0


def cmd_reproduce(args) -> int:
    from benchmark.harness.reproduce import REPRODUCTIONS

    table = REPRODUCTIONS[args.name](args.suite, args.out, train=args.train, pairs=args.pairs,
                                     k=args.estimates, cache_dir=args.cache_dir)
    print(table.to_markdown(index=False, floatfmt=".4g"))
    print(f"written: {args.out / (args.name + '.csv')}")
    return 0


def _gamma(value: str) -> float | str:
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--gamma must be a number or 'auto', got {value!r}") from None


def cmd_transfer(args) -> int:
    from benchmark.align.transfer import transfer

    manifest = transfer(args.student, args.out, args.gamma, lora=args.lora, aligned=args.aligned, base=args.base,
                        gamma_attn=args.gamma_attn, gamma_mlp=args.gamma_mlp, profile=args.profile,
                        allow_partial=args.allow_partial, overwrite=args.overwrite, allow_pickle=args.allow_pickle,
                        pairs=args.pairs, shift=args.shift, score_task=args.score_task,
                        score_limit=args.score_limit, workers=args.workers)
    print(f"merged {len(manifest['changed'])} tensors (gamma {manifest['gamma']['default']:g}) into {args.out}; "
          f"{len(manifest['skipped'])} skipped; manifest: {args.out / 'transfer_manifest.json'}")
    return 0


def cmd_winrate(args) -> int:
    from benchmark.eval.judges import make_judge
    from benchmark.eval.loaders import load_answers, pair_answers
    from benchmark.eval.winrate import win_rate

    new, base = load_answers(args.answers, args.allow_empty), load_answers(args.base, args.allow_empty)
    triples = pair_answers(new, base, str(args.answers), str(args.base))
    triples = triples[: args.limit] if args.limit else triples
    judge = make_judge(args.judge, args.judge_model)
    result = win_rate(triples, judge, args.protocol)
    print(json.dumps({"win_rate": round(result.value, 2), "stderr": round(result.stderr, 2), "n": result.n,
                      "parsed": result.n_parsed, "protocol": result.protocol, "judge": args.judge}))
    return 0


def cmd_lm_eval(args) -> int:
    from benchmark.eval.lm_eval_bridge import evaluate_with_lm_eval

    if args.gsm8k or args.truthfulqa or args.ifeval:
        from benchmark.eval.local_tasks import write_local_tasks

        if not args.include_path:
            print("error: --gsm8k/--truthfulqa/--ifeval need --include-path (where the task YAMLs go)",
                  file=sys.stderr)
            return 2
        write_local_tasks(args.include_path, gsm8k=args.gsm8k, truthfulqa=args.truthfulqa, prompt=args.prompt,
                          ifeval=args.ifeval)
    results = evaluate_with_lm_eval(args.model_dir, args.kind, args.tasks, args.include_path, args.out / args.suite,
                                    args.family, args.method, seed=args.seed, limit=args.limit,
                                    model_args={"mc_num": args.mc_num})
    print(json.dumps({t: {k: round(v["value"], 2) for k, v in m.items()} for t, m in results.items()}, indent=2))
    return 0


def cmd_eval(args) -> int:
    from benchmark.eval.eval_task import EvalRun, HubSource, run_eval_task
    from benchmark.harness.registry import EVAL_TASKS

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
    model_args = _model_args(args.model_args)  # checked before anything is loaded
    metrics = run_eval_task(args.task, args.model_dir, args.kind, run, args.out / args.suite, args.family,
                            args.method, model_args=model_args, force=args.force)
    print(json.dumps({k: round(v["value"], 2) for k, v in metrics.items()}))
    return 0


def _model_args(text: str) -> dict:
    """lm-eval's own ``k=v,k=v`` parser, so that numbers and booleans arrive typed, as with ``lm_eval``."""
    from lm_eval.utils import simple_parse_args_string

    bad = [part for part in text.split(",") if part.strip() and "=" not in part]
    if bad:
        raise BenchmarkError(f"--model-args expects K=V,K=V; {bad[0]!r} has no '='")
    try:
        return simple_parse_args_string(text) if text else {}
    except ValueError as exc:
        raise BenchmarkError(f"--model-args expects K=V,K=V, got {text!r} ({exc})") from exc


def cmd_answers(args) -> int:
    from benchmark.eval.lm_eval_bridge import generate_answers_file

    settings = {"block_length": args.block_length, "temperature": args.temperature, "threshold": args.threshold}
    n = generate_answers_file(args.model_dir, args.kind, args.prompts, args.out, args.max_new_tokens, args.limit,
                              settings=settings)
    print(f"wrote {n} answers to {args.out}")
    return 0


def cmd_leaderboard(args) -> int:
    from benchmark.harness.leaderboard import to_markdown, write_leaderboard

    root = args.out / args.suite
    if not (root / "cells").is_dir():
        print(f"error: no results under {root}/cells; run `python -m benchmark run` first", file=sys.stderr)
        return 2
    print(to_markdown(write_leaderboard(root)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "datasets", "transformers", "trl", "peft", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not args.verbose else logging.INFO)
    from benchmark.harness.errors import BenchmarkError
    from benchmark.harness.registry import PluginError, RegistryError, load_plugin_file

    try:
        for path in args.plugins + getattr(args, "run_plugins", []):
            load_plugin_file(path)
        handler = {"run": cmd_run, "list": cmd_list, "reproduce": cmd_reproduce, "transfer": cmd_transfer,
                   "winrate": cmd_winrate, "lm-eval": cmd_lm_eval, "eval": cmd_eval, "answers": cmd_answers,
                   "leaderboard": cmd_leaderboard}[args.command]
        return handler(args)
    except (BenchmarkError, RegistryError, PluginError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
