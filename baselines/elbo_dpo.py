"""ELBO-DPO: DPO directly on the DLLM with ELBO likelihood estimates (n = 1, no sharing).

Run: ``python -m benchmark run --methods base,elbo-dpo``

References:
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization", arXiv 2505.19223 (the naive
      DPO baseline of its Table 1).

Same data, beta, steps, learning rate and LoRA as ``ar-dpo``, so the rows differ only in where the
preference is learned (AR with exact likelihoods vs DLLM with estimated ones). ``vrpo`` is this class
with another estimator configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.align.lora import LoraSettings
from benchmark.core.api import AlignContext, AlignedModel, Method
from benchmark.core.registry import register_method
from benchmark.models.loading import load_model, load_tokenizer


@register_method("elbo-dpo")
class ElboDPOMethod(Method):
    name = "elbo-dpo"
    description = "DPO on the DLLM with ELBO estimates (n=1, independent noise for policy and reference)"
    paper_title = "LLaDA 1.5: Variance-Reduced Preference Optimization for Large Language Diffusion Models"
    paper_id = "2505.19223"

    @dataclass(frozen=True)
    class Config:
        n_t: int = 1  # timesteps per estimate
        n_yt: int = 1  # masks per timestep; budget n = n_t * n_yt
        antithetic: bool = False  # share noise between policy and reference
        elbo_form: str = "exact_l"
        coupled: bool = False  # coupled complementary masks (needs elbo_form "continuous" and an even n_t)
        sft_weight: float = 0.0  # LLaDA 1.5 adds 0.05 x SFT loss on chosen responses
        beta: float | None = None  # None: the suite budget's beta, shared with ar-dpo
        max_tokens_per_pass: int | None = 4096  # the n copies run in chunks of this many tokens (bounded memory)
        lora: LoraSettings = field(default_factory=LoraSettings)

    def preference_loss(self):
        """The objective on ELBO estimates (a ``PreferenceLoss``); subclasses (elbo-ipo, ...) return theirs."""
        from benchmark.align.elbo_dpo_trainer import DPOLoss

        return DPOLoss()

    def align(self, ctx: AlignContext) -> AlignedModel:
        import datasets
        from peft import get_peft_model

        from benchmark.align.devices import logging_steps, trainer_device_args
        from benchmark.align.elbo_dpo_trainer import ElboDPOConfig, ElboDPOTrainer, PreferenceCollator

        datasets.disable_progress_bars()
        cfg, pair = self.config, ctx.pair
        tokenizer = load_tokenizer(pair.dllm_path)
        model = get_peft_model(load_model(pair.dllm_path, "dllm"), cfg.lora.peft_config())
        rows = [{"prompt": pair.format_prompt(p.prompt), "chosen": p.chosen, "rejected": p.rejected,
                 "idx": i} for i, p in enumerate(ctx.data.train)]
        args = ElboDPOConfig(
            output_dir=str(ctx.workdir / "trainer"),
            max_steps=ctx.budget.steps, learning_rate=ctx.budget.learning_rate,
            beta=ctx.budget.beta if cfg.beta is None else cfg.beta,
            lr_scheduler_type="constant", seed=ctx.seed, data_seed=ctx.seed,
        **trainer_device_args(ctx.budget.batch_size),
            save_strategy="no", report_to="none", logging_steps=logging_steps(ctx.budget.steps),
            dataloader_num_workers=0,
            n_t=cfg.n_t, n_yt=cfg.n_yt, antithetic=cfg.antithetic, elbo_form=cfg.elbo_form, coupled=cfg.coupled,
            sft_weight=cfg.sft_weight, region_len=pair.sampler.max_new_tokens,
            max_tokens_per_pass=cfg.max_tokens_per_pass,
        )
        loss = self.preference_loss()
        collator = PreferenceCollator(tokenizer, args.region_len, rejected=loss.needs_rejected, kl=loss.needs_kl)
        trainer = ElboDPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                                 data_collator=collator, mask_token_id=pair.mask_token_id, shift=pair.shift,
                                 loss=loss)
        trainer.train()
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(ctx.workdir / "model")
        tokenizer.save_pretrained(ctx.workdir / "model")
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        return AlignedModel(ctx.workdir / "model", "dllm", {"train_losses": losses})
