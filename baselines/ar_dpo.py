"""DPO on the AR teacher (trl ``DPOTrainer`` + peft LoRA), scored as an AR model: the teacher's row.

Run: ``python -m benchmark run --methods base,ar-dpo``

References:
    - Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.align.ar_teacher import train_ar_teacher
from benchmark.align.lora import LoraSettings
from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method
from benchmark.models.loading import load_model, load_tokenizer


@register_method("ar-dpo")
class ArDPOMethod(Method):
    name = "ar-dpo"
    description = "DPO (trl + LoRA) on the AR teacher, scored as an AR model (teacher row)"
    paper_title = "Direct Preference Optimization: Your Language Model is Secretly a Reward Model"
    paper_id = "2305.18290"

    @dataclass(frozen=True)
    class Config:
        lora: LoraSettings = field(default_factory=LoraSettings)

    def align(self, ctx: AlignContext) -> AlignedModel:
        from peft import PeftModel

        teacher, meta = train_ar_teacher(ctx, self.config.lora)
        merged = PeftModel.from_pretrained(load_model(ctx.pair.ar_path, "ar"), teacher / "adapter").merge_and_unload()
        merged.save_pretrained(ctx.workdir / "model")
        load_tokenizer(ctx.pair.ar_path).save_pretrained(ctx.workdir / "model")
        return AlignedModel(ctx.workdir / "model", "ar", {"teacher": teacher.name,
                                                          "train_losses": meta.get("train_losses", [])})
