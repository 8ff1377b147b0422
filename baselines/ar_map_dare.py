"""AR-MAP with a DARE task vector: a random share of the teacher's delta is dropped, the rest rescaled.

Run: ``python -m benchmark run --methods base,ar-map,ar-map-dare``

merged DLLM = W_DLLM + gamma * dare(tau, density): per tensor each entry of tau is kept with probability
``density`` (drop rate p = 1 - density) and the kept ones are rescaled so the tensor keeps its L1 norm
(mergekit's form of DARE's 1/(1 - p)); seeded per tensor by the cell's seed. Computed by mergekit's
``sparsify`` (method ``random``); gamma as in ``ar-map``.

References:
    - Yu et al., "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free
      Lunch" (DARE), arXiv 2311.03099 (drop rates up to 0.9 on SFT deltas).
    - mergekit (arcee-ai/mergekit): ``mergekit.sparsify``.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.ar_map import ArMapMethod
from benchmark.align.transfer import sparsified_task_vector
from benchmark.core.registry import register_method


@register_method("ar-map-dare")
class ArMapDareMethod(ArMapMethod):
    name = "ar-map-dare"
    description = "AR-MAP with a DARE task vector (drop 90% of entries at random, rescale to the L1 norm, mergekit)"
    paper_title = "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch"
    paper_id = "2311.03099"

    @dataclass(frozen=True)
    class Config(ArMapMethod.Config):
        density: float = 0.1  # 1 - DARE's drop rate p

    def task_vector(self, delta, ctx):
        return sparsified_task_vector(delta, "random", self.config.density, ctx.seed)
