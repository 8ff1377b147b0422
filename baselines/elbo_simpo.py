"""ELBO-SimPO: SimPO's reference-free, length-normalised objective with a target margin, on ELBO estimates.

Run: ``python -m benchmark run --methods base,elbo-dpo,elbo-simpo``

Loss: -log sigmoid(beta (B_pi(y_w)/|y_w| - B_pi(y_l)/|y_l|) - gamma), no reference model (one ELBO pass per
step fewer than DPO). SimPO's scale differs from DPO's: its own defaults, beta = 2.0 and gamma = 0.5 (trl's
``CPOTrainer(loss_type="simpo")`` defaults), are the method's settings; everything else (data, steps,
learning rate, LoRA, estimator n=1) is the suite's shared budget.

References:
    - Meng et al., "SimPO: Simple Preference Optimization with a Reference-Free Reward", arXiv 2405.14734.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.align.elbo_dpo_trainer import Estimates, PreferenceLoss
from benchmark.core.registry import register_method


class SimPOLoss(PreferenceLoss):
    needs_reference = False

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma

    def __call__(self, est: Estimates, beta: float):
        (pw, pl), (lw, ll) = est.split(est.policy), est.split(est.lengths)
        score = beta * (pw / lw - pl / ll) - self.gamma
        return -F.logsigmoid(score).mean(), score


@register_method("elbo-simpo")
class ElboSimPOMethod(ElboDPOMethod):
    name = "elbo-simpo"
    description = "SimPO (reference-free, length-normalised, target margin gamma) on ELBO estimates"
    paper_title = "SimPO: Simple Preference Optimization with a Reference-Free Reward"
    paper_id = "2405.14734"

    @dataclass(frozen=True)
    class Config(ElboDPOMethod.Config):
        beta: float | None = 2.0  # SimPO's scale (not the suite's DPO beta)
        gamma: float = 0.5  # target reward margin

    def preference_loss(self) -> PreferenceLoss:
        return SimPOLoss(self.config.gamma)
