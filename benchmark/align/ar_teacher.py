"""Stage I of AR-MAP: DPO on the AR teacher with exact log-likelihoods (trl ``DPOTrainer`` + peft LoRA).

References:
    - Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
    - AR-MAP, arXiv 2602.02178 (the teacher is trained with LoRA; its delta is transferred).

The run is a shared artifact: ``ar-dpo`` (the teacher's leaderboard row) and ``ar-map`` (its transfer)
use the same adapter for the same (family, task, seed, budget), trained once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from benchmark.align.lora import LoraSettings
from benchmark.core.api import AlignContext
from benchmark.core.cost import CostMeter
from benchmark.core.hashing import config_hash
from benchmark.models.loading import load_model, load_tokenizer

log = logging.getLogger(__name__)


def preference_rows(ctx: AlignContext) -> list[dict]:
    """trl's non-conversational format; trl appends the end-of-sequence token to each completion."""
    return [{"prompt": ctx.pair.format_prompt(p.prompt), "chosen": " " + p.chosen, "rejected": " " + p.rejected}
            for p in ctx.data.train]


def train_ar_teacher(ctx: AlignContext, lora: LoraSettings) -> tuple[Path, dict]:
    """Return (artifact folder with ``adapter/``, meta); trains only if no run with this key exists."""
    rows = preference_rows(ctx)
    key = {"family_build": ctx.pair.build_hash, "task": [ctx.task.name, ctx.task.version], "seed": ctx.seed,
           "budget": asdict(ctx.budget), "lora": asdict(lora), "data": config_hash(rows)}

    def build(tmp: Path) -> dict:
        with CostMeter() as meter:
            losses = _run_dpo(ctx, lora, rows, tmp)
        return {"cost": {k: v for k, v in meter.to_dict().items() if k != "reused"}, "train_losses": losses}

    folder, meta = ctx.shared.get_or_build("ar-dpo-teacher", key, build)
    if not meta.get("built_now"):
        ctx.cost.add(meta["cost"], "ar-dpo-teacher (trained by an earlier cell, reused)")
    return folder, meta


def _run_dpo(ctx: AlignContext, lora: LoraSettings, rows: list[dict], out: Path) -> list[float]:
    import datasets
    from trl import DPOConfig, DPOTrainer

    from benchmark.align.devices import logging_steps, trainer_device_args

    datasets.disable_progress_bars()
    tokenizer = load_tokenizer(ctx.pair.ar_path)
    model = load_model(ctx.pair.ar_path, "ar")
    # trl must not cut the pairs again: the suite's token limits were applied to them already (its stated
    # rule, counted in the cell), so the longest prompt + answer (+ end token) fits.
    longest = max(len(tokenizer(r["prompt"] + r[side], add_special_tokens=False)["input_ids"])
                  for r in rows for side in ("chosen", "rejected"))
    args = DPOConfig(
        output_dir=str(out / "trainer"),
        max_steps=ctx.budget.steps, learning_rate=ctx.budget.learning_rate, beta=ctx.budget.beta,
        lr_scheduler_type="constant", seed=ctx.seed, data_seed=ctx.seed,
        **trainer_device_args(ctx.budget.batch_size),
        gradient_checkpointing=False, save_strategy="no", report_to="none",
        logging_steps=logging_steps(ctx.budget.steps),
        max_length=longest + 2, dataloader_num_workers=0,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora.peft_config())
    trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]
