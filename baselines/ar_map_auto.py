"""AR-MAP with gamma chosen by reward accuracy on held-out pairs (the paper's selection rule).

Run: ``python -m benchmark run --methods base,ar-map,ar-map-auto``

References:
    - AR-MAP, arXiv 2602.02178: "gamma is determined by reward accuracy".

The same teacher and transfer as ``ar-map``; gamma is swept (1, 2, 4, 6, 8, then the best +-1: <= 7 points)
and the one whose merged DLLM best ranks chosen over rejected, by ELBO implicit reward against the
unmerged DLLM, is kept. The curve is stored in each cell's record (``info.gamma_curve``).
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.ar_map import ArMapMethod
from benchmark.core.registry import register_method


@register_method("ar-map-auto")
class ArMapAutoMethod(ArMapMethod):
    name = "ar-map-auto"
    description = "AR-MAP with gamma selected by reward accuracy (ELBO implicit reward) on held-out pairs"

    @dataclass(frozen=True)
    class Config(ArMapMethod.Config):
        select_gamma: bool = True
