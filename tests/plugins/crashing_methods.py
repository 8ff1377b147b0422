"""Test plugin: methods whose worker process dies, to test the Ray executor's retries.

``crash-once`` kills its process the first time it runs in a cell (a marker file under
$BENCH_TEST_CRASH_MARKER records it), then returns the base DLLM; ``crash-always`` kills it every time.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method


@register_method("crash-once")
class CrashOnceMethod(Method):
    name = "crash-once"
    description = "test-only: the worker dies on the first try, the retry succeeds"

    @dataclass(frozen=True)
    class Config:
        pass

    def align(self, ctx: AlignContext) -> AlignedModel:
        marker = Path(os.environ["BENCH_TEST_CRASH_MARKER"]) / f"{ctx.task.name}-{ctx.seed}"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("crashed once")
            os._exit(1)  # a killed worker: no cleanup, no record
        return AlignedModel(ctx.pair.dllm_path, "dllm", {"retried": True})


@register_method("crash-always")
class CrashAlwaysMethod(CrashOnceMethod):
    name = "crash-always"
    description = "test-only: the worker dies on every try"

    def align(self, ctx: AlignContext) -> AlignedModel:
        os._exit(1)
