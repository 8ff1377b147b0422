"""Coupled-mask ELBO-DPO: each ELBO sample is a mask and its complement, so every response token is masked
exactly once across the two.

Run: ``python -m benchmark run --methods base,elbo-dpo,coupled-dpo,vrpo``

The estimator draws timesteps in pairs (t, 1 - t) with complementary masks (continuous form, weights 1/t and
1/(1 - t): each half is an unbiased ELBO draw, and the pair sees every token once), shared between policy
and reference (antithetic, as VRPO). n = 2: one coupled pair, two forward passes per estimate, against
elbo-dpo's one and vrpo's eight. ``reproduce vrpo-ablation`` measures its score variance beside LLaDA 1.5's
allocation and antithetic settings.

References:
    - Gong et al., "DiffuCoder: Understanding and Improving Masked Diffusion Models for Code Generation",
      arXiv 2506.20639 (coupled sampling).
    - Zhu et al., "LLaDA 1.5", arXiv 2505.19223 (antithetic sharing; coupled sampling as complementary).
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.core.registry import register_method


@register_method("coupled-dpo")
class CoupledDPOMethod(ElboDPOMethod):
    name = "coupled-dpo"
    description = "ELBO-DPO with coupled complementary masks (pairs t, 1-t; n=2, antithetic policy/reference)"
    paper_title = "DiffuCoder: Understanding and Improving Masked Diffusion Models for Code Generation"
    paper_id = "2506.20639"

    @dataclass(frozen=True)
    class Config(ElboDPOMethod.Config):
        n_t: int = 2
        n_yt: int = 1
        antithetic: bool = True
        elbo_form: str = "continuous"
        coupled: bool = True
