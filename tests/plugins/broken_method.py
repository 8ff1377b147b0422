"""Test plugin: a method whose ``align`` raises, to check the message names the method and the cell."""

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method


@register_method("broken")
class BrokenMethod(Method):
    name = "broken"
    description = "test-only: align raises ZeroDivisionError"

    def align(self, ctx: AlignContext) -> AlignedModel:
        return 1 / 0
