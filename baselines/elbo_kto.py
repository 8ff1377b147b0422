"""ELBO-KTO: KTO's unpaired objective on ELBO estimates, chosen answers desirable and rejected undesirable.

Run: ``python -m benchmark run --methods base,elbo-dpo,elbo-kto``

With r(y) = B_pi(y|x) - B_ref(y|x) and the reference point z0 = max(0, mean_i [B_pi(y'_i|x_i) -
B_ref(y'_i|x_i)]) (no gradient), where y'_i is another example's chosen answer (the mismatched pairs KTO
estimates its KL term on: prompt i with the batch's next chosen answer):

    loss = mean over the 2b answers of  lambda_D (1 - sigmoid(beta (r(y_w) - z0)))  (desirable)
                                  and  lambda_U (1 - sigmoid(beta (z0 - r(y_l))))  (undesirable)

as trl's ``KTOTrainer`` (loss_type "kto", eq. 7 of the paper) computes it on exact log-probabilities. The
pairs are used unpaired (each answer is scored alone), as ELBO-KTO (arXiv 2510.23658) does on LLaDA. Costs
two ELBO passes more than DPO per step (policy and reference on the mismatched pairs, no gradient).

References:
    - Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic Optimization", arXiv 2402.01306.
    - "ELBO-KTO" on diffusion LMs, arXiv 2510.23658.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.align.elbo_dpo_trainer import Estimates, PreferenceLoss
from benchmark.core.registry import register_method


class KTOLoss(PreferenceLoss):
    needs_kl = True

    def __init__(self, desirable_weight: float = 1.0, undesirable_weight: float = 1.0) -> None:
        self.desirable_weight, self.undesirable_weight = desirable_weight, undesirable_weight

    def __call__(self, est: Estimates, beta: float):
        (pw, pl), (rw, rl) = est.split(est.policy), est.split(est.reference)
        z0 = (est.kl_policy - est.kl_reference).mean().detach().clamp(min=0)
        chosen = 1 - (beta * ((pw - rw) - z0)).sigmoid()
        rejected = 1 - (beta * (z0 - (pl - rl))).sigmoid()
        losses = [self.desirable_weight * chosen, self.undesirable_weight * rejected]
        return (losses[0].sum() + losses[1].sum()) / (len(chosen) + len(rejected)), beta * ((pw - rw) - (pl - rl))


@register_method("elbo-kto")
class ElboKTOMethod(ElboDPOMethod):
    name = "elbo-kto"
    description = "KTO (unpaired: chosen desirable, rejected undesirable, KL reference point) on ELBO estimates"
    paper_title = "KTO: Model Alignment as Prospect Theoretic Optimization"
    paper_id = "2402.01306"

    @dataclass(frozen=True)
    class Config(ElboDPOMethod.Config):
        desirable_weight: float = 1.0  # KTO's lambda_D
        undesirable_weight: float = 1.0  # KTO's lambda_U

    def preference_loss(self) -> PreferenceLoss:
        return KTOLoss(self.config.desirable_weight, self.config.undesirable_weight)
