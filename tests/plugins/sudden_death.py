"""Test plugin: a method that kills its own process (SIGKILL, no cleanup) when ``BENCH_DIE_AT`` names
its (task, seed), to check that a killed run leaves no corrupt result and that a rerun completes."""

import os
import signal

from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method


@register_method("sudden-death")
class SuddenDeathMethod(Method):
    name = "sudden-death"
    description = "test-only: SIGKILLs the run at the cell named by $BENCH_DIE_AT"

    def align(self, ctx: AlignContext) -> AlignedModel:
        if os.environ.get("BENCH_DIE_AT") == f"{ctx.task.name}/{ctx.seed}":
            os.kill(os.getpid(), signal.SIGKILL)
        return AlignedModel(ctx.pair.dllm_path, "dllm")
