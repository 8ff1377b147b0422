"""ELBO-IPO: IPO's squared objective on ELBO estimates (the DPO variant that does not saturate).

Run: ``python -m benchmark run --methods base,elbo-dpo,elbo-ipo``

Loss: (h - 1/(2 beta))^2 with h = (B_pi(y_w)/|y_w| - B_ref(y_w)/|y_w|) - (B_pi(y_l)/|y_l| - B_ref(y_l)/|y_l|),
the per-token (length-averaged) log-ratios as trl's ``DPOTrainer(loss_type="ipo")`` computes them; beta is
IPO's tau (the suite budget's beta unless set). Same trainer, estimator (n=1, independent noise), data,
budget and LoRA as ``elbo-dpo``: the rows differ only in the objective.

References:
    - Azar et al., "A General Theoretical Paradigm to Understand Learning from Human Preferences",
      arXiv 2310.12036, eq. (17).
"""

from __future__ import annotations

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.align.elbo_dpo_trainer import Estimates, PreferenceLoss
from benchmark.core.registry import register_method


class IPOLoss(PreferenceLoss):
    def __call__(self, est: Estimates, beta: float):
        (pw, pl), (rw, rl), (lw, ll) = est.split(est.policy), est.split(est.reference), est.split(est.lengths)
        h = (pw - rw) / lw - (pl - rl) / ll
        return ((h - 1 / (2 * beta)) ** 2).mean(), beta * h


@register_method("elbo-ipo")
class ElboIPOMethod(ElboDPOMethod):
    name = "elbo-ipo"
    description = "IPO (squared, length-averaged log-ratio target 1/(2 beta)) on ELBO estimates"
    paper_title = "A General Theoretical Paradigm to Understand Learning from Human Preferences"
    paper_id = "2310.12036"

    def preference_loss(self) -> PreferenceLoss:
        return IPOLoss()
