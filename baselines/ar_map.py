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
from benchmark.align.lora import LoraSettings
from benchmark.align.transfer import lora_task_vector, merge_task_vector
from benchmark.harness.api import AlignContext, AlignedModel, Method
from benchmark.harness.registry import register_method


@register_method("ar-map")
class ArMapMethod(Method):
    name = "ar-map"
    description = "AR teacher's DPO LoRA delta x gamma added to the DLLM (weight transfer, no DLLM training)"
    paper_title = "AR-MAP: aligning diffusion LLMs by mapping autoregressive preference weights"
    paper_id = "2602.02178"

    @dataclass(frozen=True)
    class Config:
        gamma: float | None = None  # None: the family's default (ModelPair.default_gamma)
        lora: LoraSettings = field(default_factory=LoraSettings)

    def align(self, ctx: AlignContext) -> AlignedModel:
        teacher, _ = train_ar_teacher(ctx, self.config.lora)
        gamma = ctx.pair.default_gamma if self.config.gamma is None else self.config.gamma
        manifest = merge_task_vector(ctx.pair.dllm_path, lora_task_vector(teacher / "adapter"), gamma,
                                     ctx.workdir / "model")
        return AlignedModel(ctx.workdir / "model", "dllm", {"gamma": gamma, "teacher": teacher.name,
                                                            "tensors_changed": len(manifest["changed"])})
