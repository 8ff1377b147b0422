"""The unaligned AR teacher: the row that measures what AR-MAP is meant to transfer.

The teacher's gain (``ar-dpo`` - ``ar-base``) on each task stands beside each DLLM method's gain over
``base``; an AR-MAP row's *transfer* is its gain divided by the teacher's (see the leaderboard).

Run: ``python -m benchmark run --methods ar-base,ar-dpo,ar-map``
"""

from __future__ import annotations

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method


@register_method("ar-base")
class ArBaseMethod(Method):
    name = "ar-base"
    description = "the unaligned AR model (the teacher's starting point; its gain is ar-dpo - ar-base)"

    def align(self, ctx: AlignContext) -> AlignedModel:
        return AlignedModel(ctx.pair.ar_path, "ar")
