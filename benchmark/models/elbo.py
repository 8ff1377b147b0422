"""ELBO log-likelihood estimates for masked-diffusion LMs, with the noise as a shareable object.

References:
    - Nie et al., "Large Language Diffusion Models" (LLaDA), arXiv 2502.09992: the bound and its
      exactly-l form.
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization", arXiv 2505.19223: budget
      n = n_t * n_yt, optimal allocation, antithetic sharing.

B(y|x) = E_t E_{y_t}[(1/t) sum_i 1[y_t^i = mask] log p(y^i | y_t, x)]  (form ``continuous``), or with
exactly l of the L response tokens masked, l ~ U{1..L}, weight L/l (form ``exact_l``, the default and
the lower-variance one). The prompt is never masked. All n masked copies of a batch run as one forward
pass (or in chunks, each recomputed in backward), and the LM head runs only at the masked positions, so
memory does not grow with vocabulary x length (see ``masked_log_prob_sums``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from benchmark.core.errors import BenchmarkError
from benchmark.models.batching import SequenceBatch

Form = Literal["exact_l", "continuous"]


class ElboError(BenchmarkError):
    """An estimator setting or a batch that cannot give a finite estimate."""


@dataclass(frozen=True)
class EstimatorConfig:
    """How one ELBO estimate spends its budget: n = n_t timesteps x n_yt masks per timestep.

    VRPO's optimal allocation is n_t = n, n_yt = 1; ``antithetic`` shares the noise between the policy
    and the reference scoring the same response (never between chosen and rejected).
    """

    n: int = 1
    n_t: int = 1
    n_yt: int = 1
    antithetic: bool = False
    form: Form = "exact_l"
    stratified: bool = True
    # Coupled complementary masks (DiffuCoder): the n_t timesteps come in pairs (t, 1 - t) whose masks are
    # complements, so every response token is masked exactly once per pair. Needs the continuous form (1 - t
    # is uniform too, so each half stays an unbiased draw) and an even n_t.
    coupled: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ElboError(f"ELBO budget n must be >= 1, got n={self.n}")
        if self.n_t < 1 or self.n_yt < 1:
            raise ElboError(f"n_t and n_yt must be >= 1, got n_t={self.n_t}, n_yt={self.n_yt}")
        if self.n_t * self.n_yt != self.n:
            raise ElboError(f"n_t x n_yt = {self.n_t} x {self.n_yt} = {self.n_t * self.n_yt} differs from "
                            f"the budget n = {self.n}")
        if self.form not in ("exact_l", "continuous"):
            raise ElboError(f"unknown ELBO form {self.form!r}; choose 'exact_l' or 'continuous'")
        if self.coupled and (self.form != "continuous" or self.n_t % 2):
            raise ElboError(f"coupled complementary masks need form 'continuous' and an even n_t, got form "
                            f"{self.form!r}, n_t={self.n_t}")

    def draw(self, response_mask: torch.Tensor, generator: torch.Generator | None = None) -> ElboNoise:
        if self.coupled:
            half = sample_noise(response_mask, self.n_t // 2, self.n_yt, self.form, self.stratified, generator)
            t = 1.0 / half.weights  # [n/2, b]
            complement = ElboNoise(~half.masks & response_mask.unsqueeze(0), 1.0 / (1.0 - t).clamp(min=1e-3))
            return ElboNoise(torch.cat([half.masks, complement.masks]), torch.cat([half.weights, complement.weights]))
        return sample_noise(response_mask, self.n_t, self.n_yt, self.form, self.stratified, generator)

    def draw_seeded(self, response_mask: torch.Tensor, seeds: list[int]) -> ElboNoise:
        """Noise drawn row by row, row r from a generator seeded with ``seeds[r]`` over its response positions
        only: a row's estimate does not depend on its batch, its padding, its position or the process
        (data-parallel rank) that computes it."""
        n, (b, T) = self.n, response_mask.shape
        masks = torch.zeros(n, b, T, dtype=torch.bool, device=response_mask.device)
        weights = torch.zeros(n, b, device=response_mask.device)
        for row, seed in enumerate(seeds):
            where = response_mask[row].nonzero().flatten()
            gen = torch.Generator(device=response_mask.device).manual_seed(int(seed) % (1 << 63))
            compact = torch.ones(1, len(where), dtype=torch.bool, device=response_mask.device)
            noise = self.draw(compact, gen)  # [n, 1, L]
            masks[:, row, where] = noise.masks[:, 0]
            weights[:, row] = noise.weights[:, 0]
        return ElboNoise(masks, weights)

    def draw_pair_seeded(self, response_mask: torch.Tensor, seeds: list[int]) -> tuple[ElboNoise, ElboNoise]:
        """``draw_pair`` with per-row seeds; the reference's independent draw uses other seeds."""
        policy = self.draw_seeded(response_mask, seeds)
        return policy, policy if self.antithetic else self.draw_seeded(response_mask, [s ^ 0x5DEECE66D for s in seeds])

    def draw_pair(self, response_mask: torch.Tensor, generator: torch.Generator | None = None
                  ) -> tuple[ElboNoise, ElboNoise]:
        """Noise for (policy, reference): one shared draw if antithetic, else two independent ones."""
        policy = self.draw(response_mask, generator)
        return policy, policy if self.antithetic else self.draw(response_mask, generator)


@dataclass(frozen=True)
class ElboNoise:
    """Sampled timesteps and masks for n = n_t * n_yt estimates of each of b sequences.

    Passing the same object to the policy and to the reference is antithetic sharing (VRPO);
    drawing twice gives independent estimates.
    """

    masks: torch.Tensor  # [n, b, T] bool, True where the token is replaced by the mask token
    weights: torch.Tensor  # [n, b] float, L/l (exact_l) or 1/t (continuous)

    @property
    def n(self) -> int:
        return self.masks.shape[0]


def sample_noise(
    response_mask: torch.Tensor,
    n_t: int = 1,
    n_yt: int = 1,
    form: Form = "exact_l",
    stratified: bool = True,
    generator: torch.Generator | None = None,
) -> ElboNoise:
    """Draw n_t timesteps per sequence (stratified over [0, 1) if asked) and n_yt masks per timestep.

    Args:
        response_mask: [b, T] bool, the positions that may be masked (never the prompt).
    """
    if n_t < 1 or n_yt < 1:
        raise ElboError(f"n_t and n_yt must be >= 1 (budget n = n_t * n_yt), got n_t={n_t}, n_yt={n_yt}")
    if form not in ("exact_l", "continuous"):
        raise ElboError(f"unknown ELBO form {form!r}; choose 'exact_l' or 'continuous'")
    lengths = response_mask.sum(-1)  # [b]
    if response_mask.shape[0] == 0 or bool((lengths == 0).any()):
        empty = (lengths == 0).nonzero().flatten().tolist()
        raise ElboError(f"sequences {empty} have no response tokens: the ELBO of an empty response is undefined")
    b, T = response_mask.shape
    device = response_mask.device
    u = torch.rand(n_t, b, generator=generator, device=device)  # [n_t, b]
    if stratified:
        u = (torch.arange(n_t, device=device).unsqueeze(1) + u) / n_t
    u = u.repeat_interleave(n_yt, dim=0)  # [n, b]: n_yt masks share each timestep
    n = n_t * n_yt
    scores = torch.rand(n, b, T, generator=generator, device=device)  # [n, b, T]
    scores = scores.masked_fill(~response_mask.unsqueeze(0), float("inf"))
    if form == "exact_l":
        L = lengths.unsqueeze(0).float()  # [1, b]
        l = torch.floor(u * L).clamp(max=L - 1) + 1  # [n, b], uniform on 1..L
        rank = scores.argsort(-1).argsort(-1)  # [n, b, T]: rank of each position's score
        masks = rank < l.unsqueeze(-1)
        weights = L / l
    else:
        t = u.clamp(min=1e-3)  # [n, b]; the floor keeps 1/t finite, bias < 1e-3 of the bound
        masks = scores < t.unsqueeze(-1)
        weights = 1.0 / t
    return ElboNoise(masks & response_mask.unsqueeze(0), weights)


def token_log_probs(model, batch: SequenceBatch, corrupted: torch.Tensor, targets: torch.Tensor,
                    shift: bool) -> torch.Tensor:
    """log p(targets[i] | corrupted) at every response position, [rows, T] (0 elsewhere).

    The LM head runs only from the first position that predicts a response token (``logits_to_keep``).
    The ELBO itself uses ``masked_log_prob_sums``, which runs it only where a token is masked.
    """
    T = targets.shape[1]
    columns = batch.response_mask.any(0).nonzero()
    start = int(columns[0]) if len(columns) else T
    first = max(0, start - 1) if shift else start  # Dream: logits at i-1 predict token i
    if first >= T:
        return torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
    logits = model(**batch.model_inputs(corrupted), logits_to_keep=T - first).logits.float()  # [rows, T-first, V]
    return log_probs_from_logits(logits, targets, shift, first)


def _head_positions(vocab_size: int) -> int:
    """Positions per LM-head call: about 32M logits (128 MB in fp32) whatever the vocabulary."""
    return max(16, (1 << 25) // max(1, vocab_size))


def masked_log_prob_sums(model, batch: SequenceBatch, corrupted: torch.Tensor, targets: torch.Tensor,
                         masks: torch.Tensor, shift: bool) -> torch.Tensor:
    """sum_i masks[r, i] * log p(targets[r, i] | corrupted[r]) for each row r: [rows].

    Memory is bounded by the masked positions, not by rows x length x vocabulary: the model runs with its
    LM head on a single position, the final hidden states of the positions that predict a masked token are
    gathered, and the head and cross-entropy run on them in slices of ``_head_positions`` (each slice
    recomputed in backward, so no slice's logits outlive it).
    """
    rows, T = targets.shape
    out = model(**batch.model_inputs(corrupted), output_hidden_states=True,
                logits_to_keep=torch.tensor([T - 1], device=targets.device))
    hidden = out.hidden_states[-1]  # [rows, T, H], after the final norm: what the head reads
    row, col = masks.nonzero(as_tuple=True)  # masked (row, position) pairs
    src = col - 1 if shift else col  # Dream / AR shift: the state at i-1 predicts token i
    if shift and bool((src < 0).any()):
        raise ElboError("a masked token at position 0: with the AR shift it needs a token before it")
    picked, wanted = hidden[row, src], targets[row, col]  # [M, H], [M]
    head = _output_head(model)
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    step = _head_positions(head.weight.shape[0])
    parts = []
    for lo in range(0, picked.shape[0], step):
        h, y = picked[lo:lo + step], wanted[lo:lo + step]
        if torch.is_grad_enabled():
            parts.append(checkpoint(_head_log_probs, head, h, y, cap, use_reentrant=False))
        else:
            parts.append(_head_log_probs(head, h, y, cap))
    logp = torch.cat(parts) if parts else hidden.new_zeros(0, dtype=torch.float32)
    return torch.zeros(rows, dtype=torch.float32, device=targets.device).index_add(0, row, logp)


def _output_head(model):
    """The LM head (through peft and DDP wrappers, which forward attribute access to the model)."""
    inner = getattr(model, "module", model)
    return inner.get_output_embeddings()


def _head_log_probs(head, hidden: torch.Tensor, targets: torch.Tensor, softcap: float | None) -> torch.Tensor:
    logits = head(hidden).float()  # [m, V]
    if softcap:  # Gemma 2's final logit soft-capping, applied by its own forward after the head
        logits = softcap * torch.tanh(logits / softcap)
    return -F.cross_entropy(logits, targets, reduction="none")


def log_probs_from_logits(logits: torch.Tensor, targets: torch.Tensor, shift: bool, first: int = 0) -> torch.Tensor:
    """log p(targets[i]) [rows, T] from logits of positions ``first..T-1`` (0 where not predicted).

    With ``shift`` (Dream, AR models) the logits at i-1 predict token i. Cross-entropy runs on the flattened
    [rows * positions, V] logits: on the [rows, V, positions] transpose it is about 5x slower on CPUs."""
    logp = torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
    pred, tgt = (logits[:, :-1], targets[:, first + 1:]) if shift else (logits, targets[:, first:])
    if tgt.numel():
        flat = -F.cross_entropy(pred.reshape(-1, pred.shape[-1]), tgt.reshape(-1), reduction="none")
        logp[:, targets.shape[1] - tgt.shape[1]:] = flat.view(tgt.shape)
    return logp


def elbo(
    model,
    batch: SequenceBatch,
    noise: ElboNoise,
    mask_token_id: int,
    shift: bool,
    max_rows: int | None = None,
    per_estimate: bool = False,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """ELBO estimate of log p(response | prompt) for each sequence: [b] (or [n, b] if ``per_estimate``).

    The n noisy copies are stacked into one [n*b, T] batch and run in chunks of at most ``max_rows`` rows
    (or as many rows as hold ``max_tokens`` tokens; default: one chunk). With gradients on and more than
    one chunk, each chunk is recomputed in backward (``torch.utils.checkpoint``): the activations alive at
    once are one chunk's, so the n copies of VRPO cost the memory of one; the gradients are the same.
    """
    n, b, T = noise.masks.shape
    if batch.response_mask[:, 0].any() and shift:
        raise ElboError("a response starts at position 0: with the AR shift it needs at least one prompt token")
    masks = noise.masks.reshape(n * b, T)
    targets = batch.input_ids.repeat(n, 1)  # [n*b, T]
    corrupted = targets.masked_fill(masks, mask_token_id)
    rep = SequenceBatch(targets, batch.attention_mask.repeat(n, 1), batch.position_ids.repeat(n, 1),
                        batch.response_mask.repeat(n, 1))
    rows = max_rows or (max(1, max_tokens // T) if max_tokens else n * b)
    chunked = torch.is_grad_enabled() and rows < n * b
    parts = []
    for start in range(0, n * b, rows):
        sl = slice(start, start + rows)
        chunk = SequenceBatch(*(t[sl] for t in (rep.input_ids, rep.attention_mask, rep.position_ids,
                                                 rep.response_mask)))
        args = (model, chunk, corrupted[sl], targets[sl], masks[sl], shift)
        parts.append(checkpoint(masked_log_prob_sums, *args, use_reentrant=False) if chunked
                     else masked_log_prob_sums(*args))
    sums = torch.cat(parts)  # [n*b]
    per_copy = sums.reshape(n, b) * noise.weights.to(sums.dtype)  # [n, b]
    return per_copy if per_estimate else per_copy.mean(0)


def masked_diffusion_loss(model, batch: SequenceBatch, mask_token_id: int, shift: bool,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-token negative ELBO (n=1), the loss that adapts an AR model into a DLLM and trains it."""
    noise = sample_noise(batch.response_mask, generator=generator)
    lengths = batch.response_mask.sum(-1).float()
    return -(elbo(model, batch, noise, mask_token_id, shift) / lengths).mean()
