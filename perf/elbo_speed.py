"""Cost of an n=8 ELBO estimate against one forward pass over a batch 8x as large (prints figures).

    python perf/elbo_speed.py                      # a Qwen2 with hidden 256, 4 layers, batch 16, length 64
    python perf/elbo_speed.py --hidden 512 --layers 8

Goal (issue #3): the n=8 estimate costs at most 1.2x the wall time of one forward pass over a batch 8
times as large, and antithetic sharing adds no forward passes (counted with the cost meter).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from benchmark.align.variance import preference_scores
    from benchmark.core.cost import CostMeter
    from benchmark.models.batching import SequenceBatch
    from benchmark.models.elbo import EstimatorConfig, elbo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    cfg = Qwen2Config(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                      num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2)
    cfg.is_causal = False
    model = Qwen2ForCausalLM(cfg).eval()
    b, T = args.batch, args.length
    ids = torch.randint(3, args.vocab, (b, T))
    resp = torch.zeros(b, T, dtype=torch.bool)
    resp[:, args.prompt:] = True
    batch = SequenceBatch(ids, torch.ones(b, T, dtype=torch.long), torch.arange(T).expand(b, T), resp)
    big = SequenceBatch(*(t.repeat(8, 1) for t in (batch.input_ids, batch.attention_mask, batch.position_ids,
                                                    batch.response_mask)))
    estimator = EstimatorConfig(n=8, n_t=8, n_yt=1, antithetic=True)

    def timed(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with torch.no_grad():
        t_forward = timed(lambda: model(**big.model_inputs()))
        t_elbo = timed(lambda: elbo(model, batch, estimator.draw(batch.response_mask), 1, shift=True))
    print(f"model: hidden {args.hidden}, {args.layers} layers; batch {b} x length {T}, response {T - args.prompt}")
    print(f"one forward over batch {8 * b}:  {1000 * t_forward:.1f} ms")
    print(f"ELBO estimate, n=8 (n_t=8):      {1000 * t_elbo:.1f} ms")
    print(f"ratio: {t_elbo / t_forward:.2f}  (goal <= 1.2)")

    pairs = SequenceBatch(*(t.repeat(2, 1) for t in (batch.input_ids, batch.attention_mask, batch.position_ids,
                                                      batch.response_mask)))
    counts = {}
    for antithetic in (True, False):
        est = EstimatorConfig(n=8, n_t=8, n_yt=1, antithetic=antithetic)
        with CostMeter() as meter, torch.no_grad():
            preference_scores(model, model, pairs, est, 0.1, 1, True)
        counts[antithetic] = (meter.forward_passes, meter.tokens)
    print(f"preference score, n=8: antithetic {counts[True][0]} forward calls / {counts[True][1]} tokens; "
          f"independent {counts[False][0]} / {counts[False][1]}")


if __name__ == "__main__":
    main()
