"""``transfer``: AR-MAP on any checkpoint, student + gamma * the teacher's task vector."""

from __future__ import annotations

from pathlib import Path

from benchmark.cli._common import gamma, positive
from benchmark.core.store import check_output_dir


def add_parser(sub) -> None:
    tr = sub.add_parser("transfer", allow_abbrev=False,
                        help="AR-MAP weight transfer: student + gamma * teacher task vector")
    tr.add_argument("--student", type=Path, required=True, help="DLLM checkpoint folder (safetensors)")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--lora", type=Path, help="peft LoRA adapter folder of the aligned AR teacher")
    src.add_argument("--aligned", type=Path, help="full aligned AR checkpoint (with --base)")
    tr.add_argument("--base", type=Path, help="the AR checkpoint --aligned was trained from")
    tr.add_argument("--gamma", required=True, type=gamma, help="scale, or 'auto' (reward accuracy on --pairs)")
    tr.add_argument("--gamma-attn", type=float, help="scale for self-attention weights (default: --gamma)")
    tr.add_argument("--gamma-mlp", type=float, help="scale for MLP weights (default: --gamma)")
    tr.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    tr.add_argument("--profile", default="identity", help="key profile: identity, qwen2.5-dream, qwen3-sdar, tiny")
    tr.add_argument("--pairs", type=Path, help="held-out preference pairs for --gamma auto (jsonl, json, parquet, .gz)")
    tr.add_argument("--pairs-format", default="plain",
                    help="format of --pairs: plain (default), hh-rlhf, llamafactory, ultrafeedback (see `list`)")
    tr.add_argument("--score-task", metavar="TASK",
                    help="with --gamma auto: also plot this task's score at every gamma (a diagnostic)")
    tr.add_argument("--score-limit", type=positive, default=64, help="eval prompts for --score-task (default 64)")
    tr.add_argument("--workers", type=positive, help="threads per shard rewrite (default: one per core, at most 8)")
    tr.add_argument("--no-shift", dest="shift", action="store_false",
                    help="the student predicts in place (SDAR/LLaDA); default: Dream's AR shift")
    tr.add_argument("--allow-partial", action="store_true", help="merge what matches, list the rest")
    tr.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    tr.set_defaults(handler=main)


def main(args) -> int:
    check_output_dir(args.out.parent, "--out")
    from benchmark.align.armap import transfer

    manifest = transfer(args.student, args.out, args.gamma, lora=args.lora, aligned=args.aligned, base=args.base,
                        gamma_attn=args.gamma_attn, gamma_mlp=args.gamma_mlp, profile=args.profile,
                        allow_partial=args.allow_partial, overwrite=args.overwrite,
                        pairs=args.pairs, shift=args.shift, score_task=args.score_task,
                        score_limit=args.score_limit, workers=args.workers,
                        pairs_format=args.pairs_format)
    print(f"merged {len(manifest['changed'])} tensors (gamma {manifest['gamma']['default']:g}) into {args.out}; "
          f"{len(manifest['skipped'])} skipped; manifest: {args.out / 'transfer_manifest.json'}")
    return 0
