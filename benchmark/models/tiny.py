"""The embedded ``tiny`` family: a word-level tokenizer, a ~1M-parameter Qwen2 AR model and a DLLM
adapted from it, all built offline from the suite tasks' generators, cached by a hash of the build config.

Run: ``python -m benchmark run --all`` builds it on first use (about a minute on 2 cores);
``--rebuild`` forces a rebuild; ``DLLM_BENCH_CACHE`` relocates the cache (default ``~/.cache/dllm-align-bench``).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.core.api import Family, FamilyContext, ModelPair, SamplerSettings
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, damaged_weights, weights_sha256
from benchmark.core.registry import TASKS, register_family
from benchmark.core.store import OWNER_FILE, cache_root, make_work_dir, remove_stale_work_dirs

log = logging.getLogger(__name__)

SPECIAL = {"pad": "<|pad|>", "eos": "<|eos|>", "mask": "<|mask|>", "unk": "<|unk|>",
           "user": "<|user|>", "assistant": "<|assistant|>"}
CHAT_PROMPT = "<|user|> {prompt} <|assistant|>"
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}<|user|> {{ m['content'] }} "
    "{% else %}<|assistant|> {{ m['content'] }}<|eos|> {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@dataclass(frozen=True)
class TinyConfig:
    """Build settings; every field is part of the cache key."""

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    region_len: int = 8  # DLLM response region R (max new tokens)
    corpus_per_task: int = 6000
    ar_steps: int = 500
    dllm_steps: int = 500
    batch_size: int = 64
    ar_lr: float = 3e-3
    dllm_lr: float = 2e-3
    seed: int = 1234
    # AR-MAP strength for this family. The paper's scripts use 6.0 for 7B models with LoRA; for our
    # LoRA teacher (r=8, alpha=16) gamma=1 is the aligned teacher itself and our pilot runs found no
    # reason to extrapolate. `ar-map --gamma auto` (reward accuracy) is the principled alternative.
    default_gamma: float = 1.0


def build_tokenizer(texts: list[str], out_dir: Path):
    """A whitespace word-level tokenizer over ``texts``, saved as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.split()} - set(SPECIAL.values()))
    vocab = {tok: i for i, tok in enumerate(list(SPECIAL.values()) + words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL["unk"]))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=SPECIAL["pad"], eos_token=SPECIAL["eos"], unk_token=SPECIAL["unk"],
        mask_token=SPECIAL["mask"], additional_special_tokens=[SPECIAL["user"], SPECIAL["assistant"]],
        padding_side="left",
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out_dir)
    return tok


def _qwen2_config(cfg: TinyConfig, tok):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads, max_position_embeddings=64, tie_word_embeddings=True,
        bos_token_id=tok.convert_tokens_to_ids(SPECIAL["user"]), eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, attn_implementation="sdpa",
    )


def build_tiny_family(cfg: TinyConfig, corpus: list[tuple[str, str]], out_dir: Path) -> None:
    """Tokenizer -> AR pre-training -> DLLM adaptation; writes ``ar/`` and ``dllm/`` under ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2ForCausalLM

    from benchmark.models.pretrain import train_ar, train_dllm

    formatted = [(CHAT_PROMPT.format(prompt=p), r) for p, r in corpus]
    tok = build_tokenizer([p + " " + r for p, r in formatted], out_dir / "ar")
    torch.manual_seed(cfg.seed)
    ar = Qwen2ForCausalLM(_qwen2_config(cfg, tok))
    ar_losses = train_ar(ar, tok, formatted, cfg.ar_steps, cfg.batch_size, cfg.ar_lr, cfg.seed)
    ar.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                            bos_token_id=ar.config.bos_token_id, do_sample=False)
    ar.save_pretrained(out_dir / "ar")

    dllm_config = ar.config.__class__.from_pretrained(out_dir / "ar")
    dllm_config.is_causal = False  # bidirectional attention, as Dream: set on the config before loading
    dllm_config.mask_token_id = tok.mask_token_id
    dllm = AutoModelForCausalLM.from_pretrained(out_dir / "ar", config=dllm_config)
    dllm_losses = train_dllm(dllm, tok, formatted, cfg.region_len, tok.mask_token_id, True,
                             cfg.dllm_steps, cfg.batch_size, cfg.dllm_lr, cfg.seed + 1)
    dllm.save_pretrained(out_dir / "dllm")
    tok.save_pretrained(out_dir / "dllm")
    (out_dir / "build.json").write_text(json.dumps({
        "config": asdict(cfg), "corpus_examples": len(corpus), "vocab_size": len(tok),
        "parameters": sum(p.numel() for p in ar.parameters()),
        "ar_final_loss": sum(ar_losses[-50:]) / 50, "dllm_final_loss": sum(dllm_losses[-50:]) / 50,
        "weights_sha256": weights_sha256(out_dir),
    }, indent=2))


def default_cache_dir() -> Path:
    """``$DLLM_BENCH_CACHE``, else ``$XDG_CACHE_HOME/dllm-align-bench``, else ``~/.cache/dllm-align-bench``."""
    return cache_root()


FAMILY_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def check_family_cache(final: Path) -> None:
    """A cached build must be complete and readable; a damaged one says how to rebuild it."""
    problems = []
    for sub in ("ar", "dllm"):
        for name in FAMILY_FILES:
            f = final / sub / name
            if not f.is_file() or f.stat().st_size == 0:
                problems.append(f"{sub}/{name} is missing or empty")
            elif name.endswith(".json"):
                try:
                    json.loads(f.read_text())
                except (json.JSONDecodeError, UnicodeDecodeError):
                    problems.append(f"{sub}/{name} is not valid JSON (truncated?)")
    if not problems and (final / "build.json").is_file():  # the bytes, against the digests taken at build time
        try:
            recorded = json.loads((final / "build.json").read_text()).get("weights_sha256") or {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            recorded, problems = {}, ["build.json is not valid JSON (truncated?)"]
        problems += [f"{name} differs from what the build wrote" for name in damaged_weights(final, recorded)]
    if problems:
        raise BenchmarkError(f"the cached family {final} is damaged: {'; '.join(problems)}. Rebuild it with "
                             "--rebuild (or delete the folder)")


@register_family("tiny")
class TinyFamily(Family):
    """~1M-parameter Qwen2 AR model and its Dream-style DLLM, built offline from the tasks' corpora."""

    name = "tiny"
    description = "embedded ~1M-param Qwen2 AR + Dream-style DLLM, built offline from the task generators"
    # The tasks whose corpora it is built from when a suite brings none (a suite scored by eval tasks).
    default_tasks: tuple[str, ...] = ("arith", "facts", "listing")

    def __init__(self, config: TinyConfig | None = None) -> None:
        self.config = config or TinyConfig()

    def prepare(self, ctx: FamilyContext) -> ModelPair:
        tasks = ctx.tasks or [TASKS.get(n)() for n in self.default_tasks]
        corpus_tasks = sorted(tasks, key=lambda t: t.name)
        key = {"family": self.name, "config": asdict(self.config),
               "tasks": [(t.name, t.version) for t in corpus_tasks]}
        digest = config_hash(key)
        final = ctx.cache_dir / "families" / f"{self.name}-{digest}"
        if ctx.rebuild and final.exists():
            shutil.rmtree(final)
        if not (final / "build.json").exists():
            rng = random.Random(self.config.seed)
            corpus = [ex for t in corpus_tasks for ex in t.corpus(rng, self.config.corpus_per_task)]
            if not corpus:
                raise ValueError("the tiny family needs at least one task with a text corpus (Task.corpus)")
            final.parent.mkdir(parents=True, exist_ok=True)
            for stale in remove_stale_work_dirs(final.parent, ".build-*"):
                log.info("removed %s, left by an interrupted build", stale)
            log.info("building %s family %s (one-off, cached at %s)", self.name, digest, final)
            tmp = make_work_dir(final.parent, ".build-")
            try:
                build_tiny_family(self.config, corpus, tmp)
                (tmp / OWNER_FILE).unlink()
                if final.exists():  # another process finished first
                    shutil.rmtree(tmp)
                else:
                    tmp.rename(final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        check_family_cache(final)
        mask = json.loads((final / "dllm" / "config.json").read_text()).get("mask_token_id")
        if mask is None:
            raise BenchmarkError(f"{final / 'dllm' / 'config.json'}: no field 'mask_token_id'; rebuild with --rebuild")
        return ModelPair(
            family=self.name, ar_path=final / "ar", dllm_path=final / "dllm", mask_token_id=int(mask),
            shift=True, default_gamma=self.config.default_gamma,
            sampler=SamplerSettings(max_new_tokens=self.config.region_len, steps=self.config.region_len),
            build_hash=digest, chat_prompt=CHAT_PROMPT,
        )
