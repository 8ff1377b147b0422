"""LoRA settings shared by every method that trains adapters, so AR and DLLM runs are comparable."""

from __future__ import annotations

from dataclasses import dataclass

# All attention and MLP projections: the layers AR-MAP's released code transfers.
ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_PROJECTIONS

    def peft_config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules), task_type="CAUSAL_LM", bias="none")
