"""DPO for DLLMs with ELBO log-likelihood estimates, as a ``transformers.Trainer`` subclass.

References:
    - Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization", arXiv 2505.19223.

Run through a method plugin (``elbo-dpo``; ``vrpo`` configures the same trainer), or under
``accelerate launch`` for several GPUs: nothing here is device-specific.

Only ``compute_loss`` differs from ``Trainer``. The reference model is the policy with its LoRA adapter
disabled, so no second copy of the weights is held. The objective is a ``PreferenceLoss`` (DPO by default):
the trainer estimates the ELBOs a loss asks for (policy always; reference, rejected answers and KTO's
mismatched KL pairs when it needs them) and the loss turns them into a number, so ELBO-IPO, ELBO-SimPO,
ELBO-KTO and masked-diffusion SFT are each one loss in their method's file, on the same estimator.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from benchmark.models.batching import SequenceBatch, diffusion_batch
from benchmark.models.elbo import EstimatorConfig, elbo


@dataclass
class ElboDPOConfig(TrainingArguments):
    """``TrainingArguments`` plus the estimator's knobs. Defaults: naive ELBO-DPO (n = 1, no sharing)."""

    beta: float = field(default=0.1, metadata={"help": "DPO inverse temperature (LLaDA 1.5 uses 0.2)."})
    n_t: int = field(default=1, metadata={"help": "Timesteps per ELBO estimate."})
    n_yt: int = field(default=1, metadata={"help": "Masks per timestep; budget n = n_t * n_yt."})
    antithetic: bool = field(default=False,
                             metadata={"help": "Share timesteps and masks between policy and reference."})
    elbo_form: str = field(default="exact_l", metadata={"help": "'exact_l' (L/l weights) or 'continuous' (1/t)."})
    stratified: bool = field(default=True, metadata={"help": "Stratify timesteps over [0, 1)."})
    coupled: bool = field(default=False, metadata={"help": "Coupled complementary masks (pairs t, 1 - t)."})
    sft_weight: float = field(default=0.0,
                              metadata={"help": "Weight of an SFT term on chosen responses (LLaDA 1.5: 0.05)."})
    region_len: int = field(default=8, metadata={"help": "Response region R of the DLLM."})
    max_rows: int | None = field(default=None,
                                 metadata={"help": "Rows per forward call (overrides max_tokens_per_pass)."})
    max_tokens_per_pass: int | None = field(
        default=4096, metadata={"help": "Tokens per forward call: the n noisy copies run in chunks this size, "
                                        "each recomputed in backward, so activation memory is one chunk's "
                                        "(None: one pass)."})
    remove_unused_columns: bool = False


@dataclass
class Estimates:
    """ELBO estimates of one batch of b pairs, what a ``PreferenceLoss`` sees. ``policy`` and ``reference``
    hold the chosen answers' estimates first, then the rejected ones' ([2b]; [b] when the loss reads no
    rejected answers); ``lengths`` their response tokens; ``kl_policy``/``kl_reference`` [b] are estimates of
    mismatched pairs (prompt i, chosen answer i+1), KTO's reference point, without grad."""

    policy: torch.Tensor
    reference: torch.Tensor | None
    lengths: torch.Tensor
    kl_policy: torch.Tensor | None = None
    kl_reference: torch.Tensor | None = None

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = len(x) // 2
        return x[:b], x[b:]


class PreferenceLoss:
    """An objective on ELBO estimates: ``__call__`` returns (loss, score [b]); score > 0 means the chosen answer
    is preferred (logged as reward accuracy). The flags say which estimates the trainer must compute."""

    needs_reference: bool = True
    needs_rejected: bool = True
    needs_kl: bool = False

    def __call__(self, est: Estimates, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class DPOLoss(PreferenceLoss):
    """-log sigmoid(beta [(B_pi(y_w) - B_ref(y_w)) - (B_pi(y_l) - B_ref(y_l))]) (Rafailov et al.; LLaDA 1.5)."""

    def __call__(self, est: Estimates, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        (pw, pl), (rw, rl) = est.split(est.policy), est.split(est.reference)
        score = beta * ((pw - rw) - (pl - rl))
        return -F.logsigmoid(score).mean(), score


class PreferenceCollator:
    """Rows {prompt, chosen, rejected[, idx]} -> one stacked batch: chosen rows first, then rejected, [2b, T]
    (chosen rows only without ``rejected``); ``example_ids`` (the rows' ``idx``) seed each row's ELBO noise.
    With ``kl`` the batch also holds ``kl_*`` rows: prompt i with chosen answer i+1 (KTO's mismatched pairs)."""

    def __init__(self, tokenizer, region_len: int, rejected: bool = True, kl: bool = False) -> None:
        self.tokenizer, self.region_len, self.rejected, self.kl = tokenizer, region_len, rejected, kl

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        copies = 2 if self.rejected else 1
        prompts = [r["prompt"] for r in rows] * copies
        responses = [r["chosen"] for r in rows] + ([r["rejected"] for r in rows] if self.rejected else [])
        batch = diffusion_batch(self.tokenizer, prompts, responses, self.region_len)
        ids = [int(r.get("idx", i)) for i, r in enumerate(rows)]
        out = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
               "position_ids": batch.position_ids, "response_mask": batch.response_mask,
               "example_ids": torch.tensor(ids * copies)}
        if self.kl:
            shifted = [rows[(i + 1) % len(rows)]["chosen"] for i in range(len(rows))]
            kl = diffusion_batch(self.tokenizer, [r["prompt"] for r in rows], shifted, self.region_len)
            out.update(kl_input_ids=kl.input_ids, kl_attention_mask=kl.attention_mask,
                       kl_position_ids=kl.position_ids, kl_response_mask=kl.response_mask)
        return out


class ElboDPOTrainer(Trainer):
    """A preference objective on ELBO estimates (``loss``; default DPO:
    -log sigmoid(beta * [(B_pi(y_w) - B_ref(y_w)) - (B_pi(y_l) - B_ref(y_l))]))."""

    def __init__(self, *args, mask_token_id: int, shift: bool, loss: PreferenceLoss | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mask_token_id, self.shift = mask_token_id, shift
        self.loss = loss or DPOLoss()
        cfg = self.args
        self.estimator = EstimatorConfig(cfg.n_t * cfg.n_yt, cfg.n_t, cfg.n_yt, cfg.antithetic, cfg.elbo_form,
                                         cfg.stratified, cfg.coupled)
        if not hasattr(self.model, "disable_adapter"):
            raise ValueError("ElboDPOTrainer needs a peft model: the reference is the policy with the adapter off")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        cfg = self.args
        # 1. The stacked batch: chosen rows [0, b), rejected rows [b, 2b) (when the loss reads them).
        batch = SequenceBatch(inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"],
                              inputs["response_mask"])
        b = batch.input_ids.shape[0] // (2 if self.loss.needs_rejected else 1)
        # 2. Noise: shared between policy and reference (antithetic) or drawn twice; each row's from a seed of
        #    (seed, step, example, chosen/rejected), so N processes draw what one process draws.
        ids = inputs.get("example_ids")
        noise_policy, noise_ref = self._noise(batch, ids)
        # 3. ELBO estimates under the policy (with grad) and, when the loss needs them, the reference (adapter
        #    off, no grad) and KTO's mismatched pairs (no grad).
        chunks = {"max_rows": cfg.max_rows, "max_tokens": cfg.max_tokens_per_pass}
        b_policy = elbo(model, batch, noise_policy, self.mask_token_id, self.shift, **chunks)
        b_ref = kl_policy = kl_ref = None
        if self.loss.needs_kl:
            kl_batch = SequenceBatch(inputs["kl_input_ids"], inputs["kl_attention_mask"], inputs["kl_position_ids"],
                                     inputs["kl_response_mask"])
            kl_noise, kl_noise_ref = self._noise(kl_batch, None if ids is None else ids[:b] + 10**9)
            with torch.no_grad():
                kl_policy = elbo(model, kl_batch, kl_noise, self.mask_token_id, self.shift, **chunks)
        if self.loss.needs_reference or self.loss.needs_kl:
            with torch.no_grad(), _adapter_off(model):
                b_ref = elbo(model, batch, noise_ref, self.mask_token_id, self.shift, **chunks)
                if self.loss.needs_kl:
                    kl_ref = elbo(model, kl_batch, kl_noise_ref, self.mask_token_id, self.shift, **chunks)
        # 4. The objective.
        lengths = batch.response_mask.sum(-1).float()
        loss, score = self.loss(Estimates(b_policy, b_ref, lengths, kl_policy, kl_ref), cfg.beta)
        if cfg.sft_weight:
            loss = loss + cfg.sft_weight * (-(b_policy[:b] / lengths[:b]).mean())
        if self.state.global_step % max(1, cfg.logging_steps) == 0 and model.training:
            self._metrics = {"rewards/accuracy": (score > 0).float().mean().item(),
                             "rewards/margin": (score / cfg.beta).mean().item()}
        return (loss, {"score": score}) if return_outputs else loss

    def _noise(self, batch: SequenceBatch, ids: torch.Tensor | None):
        if ids is None:
            return self.estimator.draw_pair(batch.response_mask)
        return self.estimator.draw_pair_seeded(batch.response_mask, self.noise_seeds(ids))

    def noise_seeds(self, example_ids: torch.Tensor) -> list[int]:
        """One seed per stacked row from (seed, step, example, chosen or rejected)."""
        b = len(example_ids) // 2 if self.loss.needs_rejected else len(example_ids)
        step = self.state.global_step
        return [((self.args.seed * 1_000_003 + step) * 1_000_033 + int(i)) * 2 + (r >= b)
                for r, i in enumerate(example_ids.tolist())]

    def log(self, logs: dict, *args, **kwargs) -> None:
        logs.update(getattr(self, "_metrics", {}))
        super().log(logs, *args, **kwargs)


def _adapter_off(model):
    unwrapped = getattr(model, "module", model)
    return unwrapped.disable_adapter() if hasattr(unwrapped, "disable_adapter") else nullcontext()
