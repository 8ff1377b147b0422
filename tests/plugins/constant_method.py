"""Test plugin: a method defined outside the package; it returns the base DLLM unchanged and counts
its calls, so tests can see it run, resume and rerun."""

from dataclasses import dataclass

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method

CALLS = []


@register_method("plugin-copy")
class PluginCopyMethod(Method):
    name = "plugin-copy"
    description = "test-only: returns the base DLLM unchanged, from a plugin file"

    @dataclass(frozen=True)
    class Config:
        tag: str = "v1"

    def align(self, ctx: AlignContext) -> AlignedModel:
        CALLS.append((ctx.task.name, ctx.seed))
        return AlignedModel(ctx.pair.dllm_path, "dllm", {"tag": self.config.tag})
