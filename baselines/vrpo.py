"""VRPO: ELBO-DPO with variance reduction (budget n = 8, all of it on timesteps, antithetic sharing).

Run: ``python -m benchmark run --methods base,elbo-dpo,vrpo``

References:
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization for Large Language Diffusion
      Models", arXiv 2505.19223: (1) a larger budget n, (2) optimal allocation n_t = n, n_yt = 1,
      (3) antithetic sampling between policy and reference. Only (1) costs compute: n forward passes.

The same trainer as ``elbo-dpo``; only the estimator's configuration differs. beta follows the suite's
budget (shared with every DPO row) rather than the paper's 0.2, and the paper's SFT term (0.05) is
opt-in through ``sft_weight``, so the comparison with ``elbo-dpo`` isolates the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.core.registry import register_method


@register_method("vrpo")
class VRPOMethod(ElboDPOMethod):
    name = "vrpo"
    description = "ELBO-DPO with variance reduction: n=8 timesteps, 1 mask each, antithetic policy/reference"

    @dataclass(frozen=True)
    class Config(ElboDPOMethod.Config):
        n_t: int = 8  # LLaDA 1.5: n = 8, all on timesteps
        n_yt: int = 1
        antithetic: bool = True
