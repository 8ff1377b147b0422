"""An lm-evaluation-harness model class for our checkpoints: DLLMs through the diffusion sampler and
ELBO likelihoods, AR models through ``generate`` and exact likelihoods.

    import benchmark.eval                                  # registers "dllm" and "bench-ar" with lm-eval
    lm_eval.simple_evaluate(model="dllm", model_args="pretrained=DIR,mc_num=8", tasks=[...])
    python -m benchmark.eval.lm_eval_cli run --model dllm --model_args pretrained=DIR --tasks gsm8k

``loglikelihood`` estimates log p(continuation | context) with the ELBO (budget ``mc_num``, all on
timesteps) or, with ``likelihood=one_pass``, scores every continuation token with the whole
continuation masked at once (the AR-MAP MC2 protocol); ``is_greedy`` checks the one-pass argmax. The
prediction convention follows ``shift`` (Dream: logits at i-1 predict token i; the released Dream
TruthfulQA script reads one position off, which tests/test_lm_eval.py would catch).
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path

import torch
from lm_eval.api.model import LM
from tqdm.auto import tqdm

import benchmark
from benchmark.core.api import SamplerSettings
from benchmark.core.errors import BenchmarkError
from benchmark.models.batching import SequenceBatch, decode_responses, left_pad
from benchmark.models.elbo import ElboNoise, EstimatorConfig, elbo, log_probs_from_logits
from benchmark.models.loading import default_block_attention, load_model, load_tokenizer
from benchmark.models.sampler import CACHES, diffusion_generate

log = logging.getLogger(__name__)


class Request:
    """The part of lm-eval's ``Instance`` our model classes read (``args``), for calls outside lm-eval."""
    def __init__(self, *args) -> None:
        self.args = args


# Arguments lm-eval's own command line adds to every model (create_from_arg_string's additional_config).
LM_EVAL_EXTRA_ARGS = ("max_batch_size",)


def _refuse_unknown(unknown: dict) -> None:
    """A misspelt model argument (``blok_length``) must not be ignored and recorded as if it were used."""
    import difflib
    import inspect

    bad = [k for k in unknown if k not in LM_EVAL_EXTRA_ARGS]
    if not bad:
        return
    known = [p for p in inspect.signature(BenchLM.__init__).parameters if p not in ("self", "unknown")]
    hints = []
    for name in bad:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise BenchmarkError(f"--model-args: unknown argument(s) {', '.join(hints)}; known: {', '.join(known)}")


class BenchLM(LM):
    """Both model kinds behind lm-eval's three request types; batched."""
    kind = "dllm"

    def __init__(self, pretrained: str, mc_num: int = 8, likelihood: str = "elbo", steps: int | None = None,
                 block_length: int | None = None, temperature: float = 0.0, top_p: float = 1.0,
                 order: str = "confidence", threshold: float | None = None, cache: str = "none",
                 max_new_tokens: int = 256,
                 shift: bool | None = None, batch_size: int = 16, max_rows: int = 512, seed: int = 0,
                 device: str = "auto", dtype: str = "auto", block_attention: int | None = None,
                 **unknown: object) -> None:
        super().__init__()
        _refuse_unknown(unknown)  # every check below runs before the model is loaded
        self.init_args = {k: v for k, v in locals().items() if k not in ("self", "pretrained", "unknown", "__class__")}
        if cache not in CACHES:
            raise BenchmarkError(f"--model-args cache must be one of {', '.join(CACHES)}, got {cache!r}")
        if likelihood not in ("elbo", "one_pass"):
            raise BenchmarkError(f"--model-args likelihood must be 'elbo' or 'one_pass', got {likelihood!r}")
        self.path = Path(pretrained)
        if device not in ("auto", "cpu") and str(device).startswith("cuda") and not torch.cuda.is_available():
            raise BenchmarkError(f"--model-args device={device}: this machine has no CUDA device (use device=auto)")
        self._device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                    "cpu" if device == "auto" else device)  # lm-eval's LM.device reads it
        self.accelerator = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under `accelerate launch`: split requests by rank
            from accelerate import Accelerator

            self.accelerator = Accelerator(cpu=self._device.type == "cpu")
            self._rank, self._world_size = self.accelerator.process_index, self.accelerator.num_processes
            self._device = self.accelerator.device
        if dtype == "auto":  # bf16 where the hardware has it, fp32 on CPUs (exact, and what tests compare)
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        if dtype not in ("float32", "bfloat16", "float16"):
            raise BenchmarkError(f"--model-args dtype must be auto, float32, bfloat16 or float16, got {dtype!r}")
        if not (self.path / "config.json").is_file():
            raise BenchmarkError(f"{self.path}: not a model folder (no config.json)")
        if block_attention is None and self.kind == "dllm":
            block_attention = default_block_attention(self.path)  # SDAR: block-causal, block 4
        if shift is None:  # Dream keeps the AR shift; block-diffusion models (SDAR) predict in place
            shift = block_attention is None
        self.block_attention = block_attention
        self.tok = load_tokenizer(self.path)
        config_mask = json.loads((self.path / "config.json").read_text()).get("mask_token_id")
        self.mask_id = self.tok.mask_token_id if self.tok.mask_token_id is not None else config_mask
        if self.kind == "dllm" and self.mask_id is None:
            raise BenchmarkError(f"{self.path}: a DLLM needs a mask token, but neither the tokenizer (mask_token) "
                                 "nor config.json (mask_token_id) names one; is this an AR checkpoint (--kind ar)?")
        self.model = load_model(self.path, self.kind, getattr(torch, dtype), block_attention).to(self.device)
        self.estimator = EstimatorConfig(n=int(mc_num), n_t=int(mc_num), n_yt=1, antithetic=True)
        self.likelihood, self.shift = likelihood, bool(shift)
        self.max_new_tokens, self.batch_size, self.max_rows = int(max_new_tokens), int(batch_size), int(max_rows)
        self.sampler = dict(steps=steps, block_length=block_length, temperature=float(temperature),
                            top_p=float(top_p), order=order, threshold=threshold, cache=cache)
        self.seed = int(seed)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)

    def sibling(self, path, kind: str | None = None) -> BenchLM:
        """The same settings (likelihood, ELBO samples, seed, device, dtype) on other weights: e.g. the
        reference model of an implicit reward, whose ELBO noise is then the same per request (antithetic)."""
        cls = {"dllm": BenchLM, "ar": BenchARLM}[kind or self.kind]
        return cls(str(path), **self.init_args)

    # ------------------------------------------------------------------ data parallel (lm-eval's evaluator)
    def all_gather(self, tensor):
        return tensor if self.world_size <= 1 else self.accelerator.gather(tensor)

    def gather_object(self, obj, dst=0):
        if self.world_size <= 1:
            return [obj]
        result = [None] * self.world_size if self.rank == dst else None
        torch.distributed.gather_object(obj=obj, object_gather_list=result, dst=dst)
        return result

    def barrier(self) -> None:
        if self.world_size > 1:
            self.accelerator.wait_for_everyone()

    # ------------------------------------------------------------------ helpers
    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _prefix(self, context: str) -> list[int]:
        ids = self._ids(context)
        return ids if ids else [self.tok.eos_token_id]  # the shift needs a token before the continuation

    def _scored_batch(self, pairs: list[tuple[list[int], list[int]]]) -> SequenceBatch:
        """[left-padded context | continuation | right padding]; response_mask marks the continuation."""
        ctx, ctx_attn, _ = left_pad([c for c, _ in pairs], self.tok.pad_token_id)
        width = max(len(r) for _, r in pairs)
        cont = torch.full((len(pairs), width), self.tok.pad_token_id, dtype=torch.long)
        cont_attn = torch.zeros_like(cont)
        for i, (_, r) in enumerate(pairs):
            cont[i, : len(r)] = torch.tensor(r)
            cont_attn[i, : len(r)] = 1
        ids = torch.cat([ctx, cont], 1)
        attn = torch.cat([ctx_attn, cont_attn], 1)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        resp = torch.zeros_like(ids, dtype=torch.bool)
        resp[:, ctx.shape[1]:] = cont_attn.bool()
        return SequenceBatch(ids, attn, pos, resp)

    def _one_pass(self, batch: SequenceBatch, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(target) per position [b, T] and whether every continuation token is the argmax [b], from ONE
        forward pass (lm-eval's ``is_greedy`` comes from the same logits as the likelihood). The LM head runs
        only from the first position that predicts a continuation token: contexts are left-padded, so every
        continuation starts at the same column, and the context's logits are never computed."""
        targets = batch.input_ids
        T = targets.shape[1]
        shift = self.shift or self.kind == "ar"
        columns = batch.response_mask.any(0).nonzero()
        start = int(columns[0]) if len(columns) else T - 1
        first = max(0, start - 1) if shift else start
        logits = self.model(**batch.model_inputs(inputs), logits_to_keep=T - first).logits.float()  # [b, T-first, V]
        logp = log_probs_from_logits(logits, targets, shift, first)
        predicted = torch.zeros_like(targets)
        if shift:
            predicted[:, first + 1:] = logits[:, :-1].argmax(-1)
        else:
            predicted[:, first:] = logits.argmax(-1)
        greedy = ((predicted == targets) | ~batch.response_mask).all(-1)
        return logp, greedy

    def _request_noise(self, response_mask: torch.Tensor, pairs: list[tuple[list[int], list[int]]]) -> ElboNoise:
        """The ELBO's noise drawn per request from a seed of (seed, request tokens): a request's estimate does
        not depend on its batch, its order or which data-parallel rank scores it."""
        seeds = [self.seed * 1_000_003 + zlib.crc32(json.dumps([ctx, cont]).encode()) for ctx, cont in pairs]
        return self.estimator.draw_seeded(response_mask, seeds)

    @torch.no_grad()
    def _score(self, pairs: list[tuple[list[int], list[int]]], disable_tqdm: bool = False
               ) -> list[tuple[float, bool]]:
        """(log-likelihood, is_greedy) per pair. Requests are batched longest first (as lm-eval's HFLM), so
        a batch pads little, and answered in the caller's order. AR: one forward per batch (exact);
        DLLM: one all-masked forward (the one-pass score and ``is_greedy``), plus the ELBO's n copies."""
        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
        out: list[tuple[float, bool] | None] = [None] * len(pairs)
        for start in tqdm(range(0, len(pairs), self.batch_size), desc="likelihoods", unit="batch",
                          disable=disable_tqdm, leave=False):
            idx = order[start:start + self.batch_size]
            batch = self._scored_batch([pairs[i] for i in idx]).to(self.device)
            targets = batch.input_ids
            inputs = targets if self.kind == "ar" else targets.masked_fill(batch.response_mask, self.mask_id)
            logp, greedy = self._one_pass(batch, inputs)
            summed = (logp * batch.response_mask).sum(-1)
            if self.kind == "dllm" and self.likelihood == "elbo":
                noise = self._request_noise(batch.response_mask, [pairs[i] for i in idx])
                summed = elbo(self.model, batch, noise, self.mask_id, self.shift, self.max_rows)
            for i, s, g in zip(idx, summed, greedy):
                out[i] = (float(s), bool(g))
        return out

    # ------------------------------------------------------------------ lm-eval API
    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        pairs = [(self._prefix(ctx), self._ids(cont)) for ctx, cont in (r.args for r in requests)]
        empty = [i for i, (_, c) in enumerate(pairs) if not c]
        if empty:
            raise ValueError(f"requests {empty[:5]} have an empty continuation: nothing to score")
        return self._score(pairs, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        pairs = [([self.tok.eos_token_id], self._ids(text)) for (text,) in (r.args for r in requests)]
        return [ll for ll, _ in self._score(pairs, disable_tqdm)]

    @torch.no_grad()
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        out = []
        for start in tqdm(range(0, len(requests), self.batch_size), desc="generate", unit="batch",
                          disable=disable_tqdm, leave=False):
            chunk = requests[start:start + self.batch_size]
            kwargs = dict(chunk[0].args[1])
            until = kwargs.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            new = int(kwargs.get("max_gen_toks", self.max_new_tokens))
            prompts = [self._prefix(ctx) for ctx, _ in (r.args for r in chunk)]
            ids, attn, pos = (t.to(self.device) for t in left_pad(prompts, self.tok.pad_token_id))
            if self.kind == "ar":
                temperature = float(kwargs.get("temperature", self.sampler["temperature"]) or 0.0)
                sample = bool(kwargs.get("do_sample", temperature > 0)) and temperature > 0
                extra = {"temperature": temperature, "top_p": float(kwargs.get("top_p", self.sampler["top_p"]))} \
                    if sample else {}
                cuda = [self.device] if self.device.type == "cuda" else []
                with torch.random.fork_rng(devices=cuda):  # generate samples from the global RNG: seed it per batch
                    torch.manual_seed(self.seed * 1_000_003 + start)
                    gen = self.model.generate(input_ids=ids, attention_mask=attn, max_new_tokens=new,
                                              do_sample=sample, eos_token_id=self.tok.eos_token_id,
                                              pad_token_id=self.tok.pad_token_id, **extra)
                texts = decode_responses(self.tok, gen[:, ids.shape[1]:])
            else:
                settings = self._settings(new, kwargs)
                R = settings.max_new_tokens
                dev = self.device
                region = torch.full((len(chunk), R), self.mask_id, dtype=torch.long, device=dev)
                batch = SequenceBatch(torch.cat([ids, region], 1),
                                      torch.cat([attn, torch.ones(len(chunk), R, dtype=torch.long, device=dev)], 1),
                                      torch.cat([pos, pos[:, -1:] + 1 + torch.arange(R, device=dev)], 1),
                                      torch.cat([torch.zeros_like(ids, dtype=torch.bool),
                                                 torch.ones(len(chunk), R, dtype=torch.bool, device=dev)], 1))
                x = diffusion_generate(self.model, batch, self.mask_id, self.shift, settings, self.generator,
                                       eos_token_id=self.tok.eos_token_id)
                texts = decode_responses(self.tok, x[:, -R:])
            for text in texts:
                cut = min((text.find(s) for s in until if s and s in text), default=-1)
                out.append(text[:cut] if cut >= 0 else text)
        return out

    def _settings(self, new: int, kwargs: dict) -> SamplerSettings:
        block = self.sampler["block_length"]
        if block:
            new = -(-new // int(block)) * int(block)  # whole blocks
        temperature = float(kwargs.get("temperature", self.sampler["temperature"]) or 0.0)
        if not kwargs.get("do_sample", temperature > 0):
            temperature = 0.0
        return SamplerSettings(max_new_tokens=new, steps=int(self.sampler["steps"] or new),
                               block_length=int(block) if block else None, temperature=temperature,
                               top_p=self.sampler["top_p"], order=self.sampler["order"],
                               threshold=float(self.sampler["threshold"]) if self.sampler["threshold"] else None,
                               cache=self.sampler["cache"])


class BenchARLM(BenchLM):
    """The same class for AR checkpoints (exact likelihoods, ``generate``)."""
    kind = "ar"


def register_with_lm_eval() -> None:
    """Add "dllm" and "bench-ar" to lm-eval's model registry (idempotent; ``import benchmark.eval`` does it,
    and so did importing this module)."""
    benchmark.register_lazily()
