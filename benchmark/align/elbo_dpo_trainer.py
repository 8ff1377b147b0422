"""DPO for DLLMs with ELBO log-likelihood estimates, as a ``transformers.Trainer`` subclass.

References:
    - Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization", arXiv 2505.19223.

Run through a method plugin (``elbo-dpo``; ``vrpo`` configures the same trainer), or under
``accelerate launch`` for several GPUs: nothing here is device-specific.

Only ``compute_loss`` differs from ``Trainer``. The reference model is the policy with its LoRA adapter
disabled, so no second copy of the weights is held.
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


class PreferenceCollator:
    """Rows {prompt, chosen, rejected[, idx]} -> one stacked batch: chosen rows first, then rejected, [2b, T];
    ``example_ids`` (the rows' ``idx``) seed each row's ELBO noise."""

    def __init__(self, tokenizer, region_len: int) -> None:
        self.tokenizer, self.region_len = tokenizer, region_len

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        prompts = [r["prompt"] for r in rows] * 2
        responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        batch = diffusion_batch(self.tokenizer, prompts, responses, self.region_len)
        ids = [int(r.get("idx", i)) for i, r in enumerate(rows)]
        return {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
                "position_ids": batch.position_ids, "response_mask": batch.response_mask,
                "example_ids": torch.tensor(ids + ids)}


class ElboDPOTrainer(Trainer):
    """DPO on ELBO estimates: loss = -log sigmoid(beta * [(B_pi(y_w) - B_ref(y_w)) - (B_pi(y_l) - B_ref(y_l))])."""

    def __init__(self, *args, mask_token_id: int, shift: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mask_token_id, self.shift = mask_token_id, shift
        cfg = self.args
        self.estimator = EstimatorConfig(cfg.n_t * cfg.n_yt, cfg.n_t, cfg.n_yt, cfg.antithetic, cfg.elbo_form,
                                         cfg.stratified)
        if not hasattr(self.model, "disable_adapter"):
            raise ValueError("ElboDPOTrainer needs a peft model: the reference is the policy with the adapter off")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        cfg = self.args
        # 1. The stacked batch: chosen rows [0, b), rejected rows [b, 2b); each [2b, T].
        batch = SequenceBatch(inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"],
                              inputs["response_mask"])
        b = batch.input_ids.shape[0] // 2
        # 2. Noise: shared between policy and reference (antithetic) or drawn twice; each row's from a seed of
        #    (seed, step, example, chosen/rejected), so N processes draw what one process draws.
        ids = inputs.get("example_ids")
        if ids is None:
            noise_policy, noise_ref = self.estimator.draw_pair(batch.response_mask)
        else:
            noise_policy, noise_ref = self.estimator.draw_pair_seeded(batch.response_mask, self.noise_seeds(ids))
        # 3. ELBO estimates [2b] under the policy (with grad) and the reference (adapter off, no grad).
        chunks = {"max_rows": cfg.max_rows, "max_tokens": cfg.max_tokens_per_pass}
        b_policy = elbo(model, batch, noise_policy, self.mask_token_id, self.shift, **chunks)
        with torch.no_grad(), _adapter_off(model):
            b_ref = elbo(model, batch, noise_ref, self.mask_token_id, self.shift, **chunks)
        # 4. Preference score s and the DPO loss.
        margin_w = b_policy[:b] - b_ref[:b]  # [b]
        margin_l = b_policy[b:] - b_ref[b:]  # [b]
        score = cfg.beta * (margin_w - margin_l)  # [b]
        loss = -F.logsigmoid(score).mean()
        if cfg.sft_weight:
            lengths = batch.response_mask[:b].sum(-1).float()
            loss = loss + cfg.sft_weight * (-(b_policy[:b] / lengths).mean())
        if self.state.global_step % max(1, cfg.logging_steps) == 0 and model.training:
            self._metrics = {"rewards/accuracy": (score > 0).float().mean().item(),
                             "rewards/margin": (score / cfg.beta).mean().item()}
        return (loss, {"score": score}) if return_outputs else loss

    def noise_seeds(self, example_ids: torch.Tensor) -> list[int]:
        """One seed per stacked row from (seed, step, example, chosen or rejected)."""
        b = len(example_ids) // 2
        step = self.state.global_step
        return [((self.args.seed * 1_000_003 + step) * 1_000_033 + int(i)) * 2 + (r >= b)
                for r, i in enumerate(example_ids.tolist())]

    def log(self, logs: dict, *args, **kwargs) -> None:
        logs.update(getattr(self, "_metrics", {}))
        super().log(logs, *args, **kwargs)


def _adapter_off(model):
    unwrapped = getattr(model, "module", model)
    return unwrapped.disable_adapter() if hasattr(unwrapped, "disable_adapter") else nullcontext()
