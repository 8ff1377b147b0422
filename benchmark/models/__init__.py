"""Model families (AR + DLLM pairs), batching conventions and the diffusion sampler."""
