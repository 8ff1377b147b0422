"""AR-MAP with a TIES-trimmed task vector: only the largest entries of the teacher's delta are added.

Run: ``python -m benchmark run --methods base,ar-map,ar-map-ties``

merged DLLM = W_DLLM + gamma * trim(tau, density): per tensor, the ``density`` share of tau's entries largest
in magnitude is kept and the rest dropped (TIES' trim; with one task vector its sign election keeps every
survivor and its disjoint mean is the vector itself). Computed by mergekit's ``sparsify`` (method
``magnitude``); gamma as in ``ar-map`` (the family's default). Task-vector merging research finds that
dropping the small entries loses little and removes interference; whether it helps a transfer across
attention types is what the row measures.

References:
    - Yadav et al., "TIES-Merging: Resolving Interference When Merging Models", arXiv 2306.01708 (k = 20%).
    - mergekit (arcee-ai/mergekit): ``mergekit.sparsify``.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.ar_map import ArMapMethod
from benchmark.align.transfer import sparsified_task_vector
from benchmark.core.registry import register_method


@register_method("ar-map-ties")
class ArMapTiesMethod(ArMapMethod):
    name = "ar-map-ties"
    description = "AR-MAP with a TIES-trimmed task vector (top 20% of each tensor's entries by magnitude, mergekit)"
    paper_title = "TIES-Merging: Resolving Interference When Merging Models"
    paper_id = "2306.01708"

    @dataclass(frozen=True)
    class Config(ArMapMethod.Config):
        density: float = 0.2  # TIES' k: the share of entries kept

    def task_vector(self, delta, ctx):
        return sparsified_task_vector(delta, "magnitude", self.config.density, ctx.seed)
