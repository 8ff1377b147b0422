"""AR-MAP: the AR teacher's DPO task vector, scaled by gamma, added to the DLLM's weights.

Run: ``python -m benchmark run --methods base,ar-map``

References:
    - "AR-MAP: ..." arXiv 2602.02178: tau = W_AR_aligned - W_AR_base (LoRA: B @ A * alpha / r);
      merged DLLM = W_DLLM + gamma * tau.

The teacher is the same run as the ``ar-dpo`` row (trained once, shared), so the two rows differ only
by the transfer. Its cost is counted in this row too: AR-MAP is not free of the teacher's training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.align.ar_teacher import train_ar_teacher
from benchmark.align.gamma import sweep_gamma
from benchmark.align.lora import LoraSettings
from benchmark.align.transfer import lora_task_vector, merge_task_vector
from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method
from benchmark.models.batching import diffusion_batch
from benchmark.models.elbo import EstimatorConfig
from benchmark.models.loading import load_tokenizer


@register_method("ar-map")
class ArMapMethod(Method):
    name = "ar-map"
    description = "AR teacher's DPO LoRA delta x gamma added to the DLLM (weight transfer, no DLLM training)"
    paper_title = "AR-MAP: aligning diffusion LLMs by mapping autoregressive preference weights"
    paper_id = "2602.02178"
    reuses = ("ar-dpo",)  # the DPO-trained AR teacher

    @dataclass(frozen=True)
    class Config:
        gamma: float | None = None  # None: the family's default (ModelPair.default_gamma)
        select_gamma: bool = False  # True: sweep gamma, keep the best reward accuracy on held-out pairs
        gamma_estimates: int = 8  # ELBO samples per held-out answer in the sweep (shared by every gamma)
        lora: LoraSettings = field(default_factory=LoraSettings)

    def align(self, ctx: AlignContext) -> AlignedModel:
        teacher, _ = train_ar_teacher(ctx, self.config.lora)
        delta = self.task_vector(lora_task_vector(teacher / "adapter"), ctx)
        info: dict = {"teacher": teacher.name, **({"task_vector": delta.source["sparsified"]}
                                                  if "sparsified" in delta.source else {})}
        if self.config.select_gamma:
            gamma, info["gamma_curve"] = self._select_gamma(ctx, delta)
        else:
            gamma = ctx.pair.default_gamma if self.config.gamma is None else self.config.gamma
        manifest = merge_task_vector(ctx.pair.dllm_path, delta, gamma, ctx.workdir / "model")
        info.update(gamma=gamma, tensors_changed=len(manifest["changed"]))
        return AlignedModel(ctx.workdir / "model", "dllm", info)

    def task_vector(self, delta, ctx: AlignContext):
        """The task vector merged (plain AR-MAP: the teacher's LoRA delta as it is; TIES / DARE sparsify it)."""
        return delta

    def _select_gamma(self, ctx: AlignContext, delta) -> tuple[float, list[dict]]:
        pairs = ctx.data.heldout
        if not pairs:
            raise ValueError(f"task {ctx.task.name!r} gives no held-out pairs: gamma cannot be selected")
        tok = load_tokenizer(ctx.pair.dllm_path)
        prompts = [ctx.pair.format_prompt(p.prompt) for p in pairs]
        batch = diffusion_batch(tok, prompts * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs],
                                ctx.pair.sampler.max_new_tokens)
        n = self.config.gamma_estimates
        best, curve = sweep_gamma(ctx.pair.dllm_path, delta, batch, ctx.pair.mask_token_id, ctx.pair.shift,
                                  estimator=EstimatorConfig(n=n, n_t=n, n_yt=1, antithetic=True), seed=ctx.seed)
        return best, [p.__dict__ for p in curve]
