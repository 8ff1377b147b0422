"""The commands ``eval`` replaced, kept as aliases with their old flags: ``lm-eval``, ``answers``, ``winrate``."""

from __future__ import annotations

from pathlib import Path

from benchmark.cli import eval_cmd
from benchmark.cli._common import add_checkpoint, names, positive
from benchmark.core.store import check_output_dir, check_output_file


def add_parser(sub) -> None:
    le = sub.add_parser("lm-eval", allow_abbrev=False, help="alias of `eval --lm-eval A,B` (same flags)",
                        description="Alias of `python -m benchmark eval --lm-eval A,B --model-dir DIR ...`: "
                                    "lm-eval tasks on one checkpoint, stored as cells of our result store.")
    add_checkpoint(le)
    le.add_argument("--tasks", type=names, required=True, metavar="A,B", dest="lm_eval_tasks",
                    help="lm-eval task names")
    eval_cmd.add_lm_eval_files(le)
    le.add_argument("--mc-num", type=positive, default=8, help="ELBO budget per likelihood (DLLM)")
    le.add_argument("--seed", type=int, default=0)
    le.set_defaults(handler=lambda args: check_output_dir(args.out, "--out") and eval_cmd.evaluate_lm_eval(
        args, {"mc_num": args.mc_num}))

    an = sub.add_parser("answers", allow_abbrev=False,
                        help="alias of `eval --prompts P.jsonl --answers-out A.jsonl`",
                        description="Alias of `python -m benchmark eval --prompts P.jsonl --answers-out A.jsonl "
                                    "--model-dir DIR --model-args block_length=32,threshold=0.9`.")
    add_checkpoint(an, stored=False)
    an.add_argument("--prompts", type=Path, required=True, help="jsonl with an 'instruction' field")
    an.add_argument("--out", type=Path, required=True, dest="answers_out", help="answers jsonl (raw_prompt, responses)")
    an.add_argument("--max-new-tokens", type=positive, default=512)
    an.add_argument("--block-length", type=positive, help="DLLM sampler block length (Dream: 32, SDAR: 4)")
    an.add_argument("--temperature", type=float, default=0.0)
    an.add_argument("--threshold", type=float, help="DLLM confidence threshold (paper: 0.9)")
    an.set_defaults(handler=lambda args: check_output_file(args.answers_out, "--out") and eval_cmd.write_answers(args, {
        "block_length": args.block_length, "temperature": args.temperature, "threshold": args.threshold}))

    wr = sub.add_parser("winrate", allow_abbrev=False, help="alias of `eval --answers A.jsonl --base B.jsonl`",
                        description="Alias of `python -m benchmark eval --answers A.jsonl --base B.jsonl "
                                    "[--judge J --protocol P]`: pairwise win rate of answers against the base's.")
    wr.add_argument("--answers", type=Path, required=True, help="jsonl of the method's answers")
    eval_cmd.add_judge(wr)
    wr.add_argument("--limit", type=positive, help="only the first N prompts")
    wr.set_defaults(handler=eval_cmd.judge_answers)
