"""Decoding speed of a family's DLLM against its AR model's ``generate``, on the same prompts and lengths,
printed as ratios measured in one run (and the task score of each decoding, so speed is not bought with
answers):

    python perf/decode_speed.py                                  # tiny family, CPU, arith prompts
    python perf/decode_speed.py --device cuda --batch 8 --new-tokens 96

Rows: AR ``generate`` (KV cache, greedy); the diffusion sampler one token per step (steps = new tokens,
left to right in confidence order, the dual cache); and threshold decoding (commit every prediction at
least 0.9 confident, at least one per step: parallel decoding). Figures: tokens/s, tokens per forward
pass, the ratio to AR, and the arith exact-match score on the decoded prompts.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=None, help="default: the family sampler's")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA device here", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    from benchmark.core.api import FamilyContext
    from benchmark.core.cost import CostMeter
    from benchmark.core.registry import FAMILIES, TASKS
    from benchmark.models.batching import decode_responses, diffusion_batch, encode_prompts, left_pad
    from benchmark.models.loading import load_model, load_tokenizer
    from benchmark.models.sampler import diffusion_generate
    from benchmark.models.tiny import default_cache_dir

    tasks = [TASKS.get(n)() for n in ("arith", "facts", "listing")]
    pair = FAMILIES.get("tiny")().prepare(FamilyContext(tasks, Path(args.cache_dir or default_cache_dir())))
    task = tasks[0]
    items = task.build(0, 0, 0, args.prompts).eval
    prompts = [pair.format_prompt(i.prompt) for i in items]
    new = args.new_tokens or pair.sampler.max_new_tokens
    device = torch.device(args.device)
    tok = load_tokenizer(pair.dllm_path)
    ar, dllm = load_model(pair.ar_path, "ar").to(device), load_model(pair.dllm_path, "dllm").to(device)

    def run(name: str, decode) -> dict:
        answers = []
        with CostMeter() as cost:
            start = time.perf_counter()
            for lo in range(0, len(prompts), args.batch):
                answers += decode(prompts[lo:lo + args.batch])
            if device.type == "cuda":
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
        score = sum(task.score(i, a)["score"] for i, a in zip(items, answers)) / len(items)
        tokens, batches = len(prompts) * new, -(-len(prompts) // args.batch)
        # per sequence: the new tokens over the forward passes one batch took (AR and one token a step: 1)
        return {"name": name, "tokens_per_s": tokens / wall, "score": 100 * score, "wall_s": wall,
                "tokens_per_forward": new / max(1e-9, cost.forward_passes / batches)}

    @torch.no_grad()
    def ar_generate(chunk):
        ids, attn, _ = left_pad(encode_prompts(tok, chunk), tok.pad_token_id)
        out = ar.generate(input_ids=ids.to(device), attention_mask=attn.to(device), max_new_tokens=new,
                          min_new_tokens=new, do_sample=False, pad_token_id=tok.pad_token_id)
        return decode_responses(tok, out[:, ids.shape[1]:].cpu())

    def diffusion(settings):
        @torch.no_grad()
        def decode(chunk):
            batch = diffusion_batch(tok, chunk, None, new).to(device)
            x = diffusion_generate(dllm, batch, pair.mask_token_id, pair.shift, settings,
                                   torch.Generator(device=device).manual_seed(0), tok.eos_token_id)
            return decode_responses(tok, x[:, -new:].cpu())
        return decode

    base = dataclasses.replace(pair.sampler, max_new_tokens=new, steps=new, block_length=None, cache="dual",
                               stop_at_eos=False)
    rows = [run("AR generate", ar_generate),
            run("diffusion, 1 token/step", diffusion(base)),
            run("diffusion, threshold 0.9", diffusion(dataclasses.replace(base, threshold=0.9)))]
    print(f"tiny family, {len(prompts)} arith prompts, batch {args.batch}, {new} new tokens, {device}, "
          f"{args.threads} thread(s)")
    print(f"{'decoding':<28}{'tokens/s':>10}{'x AR':>7}{'tok/fwd':>9}{'score %':>9}")
    for r in rows:
        print(f"{r['name']:<28}{r['tokens_per_s']:>10.0f}{r['tokens_per_s'] / rows[0]['tokens_per_s']:>7.2f}"
              f"{r['tokens_per_forward']:>9.2f}{r['score']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
