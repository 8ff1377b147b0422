"""Models engine (layer 1): loading checkpoints as AR models or DLLMs, batching conventions, block
attention, the ELBO estimator (the DLLM's likelihood), the diffusion sampler, answer generation, and
the family builders (the tiny family and its pre-training loops). Uses only the core."""
