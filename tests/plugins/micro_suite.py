"""Test plugin: a ``micro`` family (a few seconds to build) and a ``micro`` suite that runs in seconds."""


from benchmark.core.api import Budget
from benchmark.core.registry import register_family, register_suite
from benchmark.harness.suites import Suite
from benchmark.models.tiny import TinyConfig, TinyFamily

MICRO = TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, corpus_per_task=300, ar_steps=30, dllm_steps=30, batch_size=16)


@register_family("micro")
class MicroFamily(TinyFamily):
    name = "micro"
    description = "test-only: a 2-layer, 32-wide tiny family trained for 30 steps"
    default_tasks = ("arith", "facts")

    def __init__(self) -> None:
        super().__init__(MICRO)


register_suite("micro", Suite(
    name="micro", description="test-only suite: micro family, arith + facts, 2 training steps",
    families=("micro",), tasks=("arith", "facts"), budget=Budget(steps=2, batch_size=4), n_eval=8, n_heldout=8,
))
