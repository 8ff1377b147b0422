"""ELBO log-likelihood estimates for masked-diffusion LMs, with the noise as a shareable object.

References:
    - Nie et al., "Large Language Diffusion Models" (LLaDA), arXiv 2502.09992: the bound and its
      exactly-l form.
    - Zhu et al., "LLaDA 1.5: Variance-Reduced Preference Optimization", arXiv 2505.19223: budget
      n = n_t * n_yt, optimal allocation, antithetic sharing.

B(y|x) = E_t E_{y_t}[(1/t) sum_i 1[y_t^i = mask] log p(y^i | y_t, x)]  (form ``continuous``), or with
exactly l of the L response tokens masked, l ~ U{1..L}, weight L/l (form ``exact_l``, the default and
the lower-variance one). The prompt is never masked. All n masked copies of a batch run as one forward
pass (split into chunks of at most ``max_rows`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

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

    def draw(self, response_mask: torch.Tensor, generator: torch.Generator | None = None) -> ElboNoise:
        return sample_noise(response_mask, self.n_t, self.n_yt, self.form, self.stratified, generator)

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

    The LM head runs only from the first position that predicts a response token (``logits_to_keep``):
    prompt positions, whose logits an ELBO never reads, cost no vocabulary-sized activations.
    """
    T = targets.shape[1]
    columns = batch.response_mask.any(0).nonzero()
    start = int(columns[0]) if len(columns) else T
    first = max(0, start - 1) if shift else start  # Dream: logits at i-1 predict token i
    if first >= T:
        return torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
    logits = model(**batch.model_inputs(corrupted), logits_to_keep=T - first).logits.float()  # [rows, T-first, V]
    return log_probs_from_logits(logits, targets, shift, first)


def log_probs_from_logits(logits: torch.Tensor, targets: torch.Tensor, shift: bool, first: int = 0) -> torch.Tensor:
    """log p(targets[i]) [rows, T] from logits of positions ``first..T-1`` (0 where not predicted).

    With ``shift`` (Dream, AR models) the logits at i-1 predict token i."""
    logp = torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
    if shift:
        logp[:, first + 1:] = -F.cross_entropy(logits[:, :-1].transpose(1, 2), targets[:, first + 1:], reduction="none")
    else:
        logp[:, first:] = -F.cross_entropy(logits.transpose(1, 2), targets[:, first:], reduction="none")
    return logp


def elbo(
    model,
    batch: SequenceBatch,
    noise: ElboNoise,
    mask_token_id: int,
    shift: bool,
    max_rows: int | None = None,
    per_estimate: bool = False,
) -> torch.Tensor:
    """ELBO estimate of log p(response | prompt) for each sequence: [b] (or [n, b] if ``per_estimate``).

    The n noisy copies are stacked into one [n*b, T] batch; ``max_rows`` bounds rows per forward call.
    """
    n, b, T = noise.masks.shape
    if batch.response_mask[:, 0].any() and shift:
        raise ElboError("a response starts at position 0: with the AR shift it needs at least one prompt token")
    masks = noise.masks.reshape(n * b, T)
    targets = batch.input_ids.repeat(n, 1)  # [n*b, T]
    corrupted = targets.masked_fill(masks, mask_token_id)
    rep = SequenceBatch(targets, batch.attention_mask.repeat(n, 1), batch.position_ids.repeat(n, 1),
                        batch.response_mask.repeat(n, 1))
    rows = max_rows or n * b
    parts = []
    for start in range(0, n * b, rows):
        sl = slice(start, start + rows)
        chunk = SequenceBatch(*(t[sl] for t in (rep.input_ids, rep.attention_mask, rep.position_ids,
                                                 rep.response_mask)))
        parts.append(token_log_probs(model, chunk, corrupted[sl], targets[sl], shift))
    logp = torch.cat(parts)  # [n*b, T]
    per_copy = (logp * masks).sum(-1).reshape(n, b) * noise.weights.to(logp.dtype)  # [n, b]
    return per_copy if per_estimate else per_copy.mean(0)


def masked_diffusion_loss(model, batch: SequenceBatch, mask_token_id: int, shift: bool,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-token negative ELBO (n=1), the loss that adapts an AR model into a DLLM and trains it."""
    noise = sample_noise(batch.response_mask, generator=generator)
    lengths = batch.response_mask.sum(-1).float()
    return -(elbo(model, batch, noise, mask_token_id, shift) / lengths).mean()
