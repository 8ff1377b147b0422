"""Test plugin: ``smol-cut``, the smol family on a 2-layer cut of the real SmolLM2 with a stub-sized
adaptation (2 steps) and 32-token answers: the smol suite's whole code path in about a minute."""

from benchmark.core.api import SamplerSettings
from benchmark.core.registry import register_family
from benchmark.models.smol import SmolConfig, SmolFamily

CUT = SmolConfig(layers=2, region_len=32, max_prompt_tokens=48, steps=2, batch_size=2, exclude_heldout=8,
                 n_accuracy=4)


@register_family("smol-cut")
class SmolCutFamily(SmolFamily):
    name = "smol-cut"
    description = "test-only: the smol family on a 2-layer SmolLM2 cut, adapted for 2 steps"
    sampler = SamplerSettings(max_new_tokens=32, steps=32, block_length=16, threshold=0.9, cache="dual")

    def __init__(self) -> None:
        super().__init__(CUT)
