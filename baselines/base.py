"""The unaligned DLLM: the reference row every method is compared with.

Run: ``python -m benchmark run --methods base``
"""

from __future__ import annotations

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method


@register_method("base")
class BaseMethod(Method):
    name = "base"
    description = "the unaligned DLLM (reference row; win rates are measured against its answers)"

    def align(self, ctx: AlignContext) -> AlignedModel:
        return AlignedModel(ctx.pair.dllm_path, "dllm")
