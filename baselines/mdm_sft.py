"""MDM-SFT: masked-diffusion fine-tuning on the chosen answers, the floor every alignment method should beat.

Run: ``python -m benchmark run --methods base,mdm-sft,elbo-dpo``

Loss: -(1/b) sum_i B_pi(y_w,i | x_i) / |y_w,i|, the per-token negative ELBO of the chosen answers (the
masked-diffusion pre-training loss; LLaDA 1.5 adds it to DPO with weight 0.05). No reference model and no
rejected answers: one ELBO pass over the chosen rows per step. Same trainer, estimator, data, budget and
LoRA as ``elbo-dpo``.

References:
    - Nie et al., "Large Language Diffusion Models" (LLaDA), arXiv 2502.09992: the masked-diffusion loss.
"""

from __future__ import annotations

from baselines.elbo_dpo import ElboDPOMethod
from benchmark.align.elbo_dpo_trainer import Estimates, PreferenceLoss
from benchmark.core.registry import register_method


class MaskedDiffusionSFTLoss(PreferenceLoss):
    needs_reference = False
    needs_rejected = False

    def __call__(self, est: Estimates, beta: float):
        """(the mean per-token negative ELBO of the chosen answers, no preference score: zeros)."""
        return -(est.policy / est.lengths).mean(), est.policy.detach() * 0


@register_method("mdm-sft")
class MdmSFTMethod(ElboDPOMethod):
    name = "mdm-sft"
    description = "masked-diffusion SFT on the chosen answers (per-token negative ELBO; no reference, no rejected)"
    paper_title = "Large Language Diffusion Models"
    paper_id = "2502.09992"

    def preference_loss(self) -> PreferenceLoss:
        return MaskedDiffusionSFTLoss()
