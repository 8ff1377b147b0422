"""The typed interface between the harness and its plugins (methods, tasks, model families).

A method sees only an :class:`AlignContext` (the model pair, the task's preference data, a budget, a
seed, a work folder) and returns an :class:`AlignedModel` (a folder ``from_pretrained`` loads). A task
gives :class:`TaskData` and scores responses. A family builds or finds a :class:`ModelPair`.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from benchmark.core.data import DataError


# ----------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class PreferencePair:
    """One preference: ``chosen`` is preferred over ``rejected`` as an answer to ``prompt``."""

    prompt: str
    chosen: str
    rejected: str

    @classmethod
    def from_row(cls, row: Any, where: str) -> PreferencePair:
        """Validate a raw row (e.g. one jsonl line); ``where`` is ``file:line`` for the error."""
        return cls(**_require_strings(row, where, ("prompt", "chosen", "rejected")))


@dataclass(frozen=True)
class EvalItem:
    """A held-out prompt and what the task's scorer needs to check an answer (``target``)."""

    prompt: str
    target: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any, where: str) -> EvalItem:
        values = _require_strings(row, where, ("prompt",))
        target = row.get("target", {})
        if not isinstance(target, dict):
            raise DataError(f"{where}: field 'target' must be an object, got {type(target).__name__}")
        return cls(prompt=values["prompt"], target=target)


def _require_strings(row: Any, where: str, names: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    out = {}
    for name in names:
        if name not in row:
            raise DataError(f"{where}: missing field {name!r}")
        value = row[name]
        if not isinstance(value, str):
            raise DataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
        if not value.strip():
            raise DataError(f"{where}: field {name!r} is empty")
        out[name] = value
    return out


@dataclass(frozen=True)
class TaskData:
    """What one (task, seed) gives the harness: training pairs, held-out pairs, evaluation items."""

    train: list[PreferencePair]
    heldout: list[PreferencePair]
    eval: list[EvalItem]


@dataclass(frozen=True)
class Metric:
    name: str
    display: str
    higher_is_better: bool = True


# ----------------------------------------------------------------------------------------------- tasks
class Task(ABC):
    """A preference task: pairs to train on, held-out prompts, and a verifier.

    Subclasses set ``name``, ``version`` (bump it whenever data or scoring changes: it is part of every
    result's config hash), ``description`` and ``metrics``; ``metrics[0]`` is the leaderboard's score.
    ``score`` returns one value per metric in [0, 1] for a single response.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("score", "Score"),)

    @abstractmethod
    def build(self, seed: int, n_train: int, n_heldout: int, n_eval: int) -> TaskData:
        """Draw the data of one seed; held-out and eval prompts never occur in ``train``."""

    @abstractmethod
    def score(self, item: EvalItem, response: str) -> dict[str, float]:
        """Score one response; keys are the names in ``metrics``."""

    def corpus(self, rng: random.Random, n: int) -> list[tuple[str, str]]:
        """(prompt, response) examples for pre-training a tiny family, with good *and* bad behaviour.

        Tasks that cannot generate text return ``[]``; a family built without them has not seen them.
        """
        return []


# The method every run includes: its answers are the reference of the win rates and pairwise tasks.
REFERENCE_METHOD = "base"


# ----------------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class SamplerSettings:
    """Decoding settings of a family (diffusion sampler for the DLLM, greedy/sampled for the AR model)."""

    max_new_tokens: int = 8
    steps: int = 8
    block_length: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    order: Literal["confidence", "entropy", "margin", "random", "left_to_right"] = "confidence"
    threshold: float | None = None  # commit every prediction at least this confident (Dream/Fast-dLLM: 0.9)
    # Keys/values reuse (Fast-dLLM): "none" recomputes the whole sequence each step; "prefix" reuses the
    # committed blocks' (exact for block-causal attention, approximate for bidirectional); "dual" also
    # freezes the masked suffix within a block (bidirectional models).
    cache: Literal["none", "prefix", "dual"] = "none"
    stop_at_eos: bool = True  # a finished block holding end-of-text ends that row: the rest is end-of-text


@dataclass(frozen=True)
class ModelPair:
    """An AR model and the DLLM derived from it, sharing tensor names and shapes."""

    family: str
    ar_path: Path
    dllm_path: Path
    mask_token_id: int
    shift: bool  # Dream convention: logits at i-1 predict token i (True); LLaDA/SDAR predict in place
    default_gamma: float
    sampler: SamplerSettings
    build_hash: str
    chat_prompt: str = "{prompt}"  # how a user prompt becomes model input text

    def format_prompt(self, prompt: str) -> str:
        return self.chat_prompt.format(prompt=prompt)


@dataclass
class FamilyContext:
    tasks: list[Task]
    cache_dir: Path
    rebuild: bool = False
    # A suite trained on preference data passes it on: a family adapted on text (``smol``) trains on it,
    # leaving out the suite's held-out pairs (``preference_data.heldout_order``), and uses the device given.
    preference: Any = None  # benchmark.core.preference_data.PreferenceOrigin
    n_heldout: int = 0
    device: str = "auto"


class Family(ABC):
    """A model family: builds or locates the AR/DLLM pair once, cached by its config hash."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def prepare(self, ctx: FamilyContext) -> ModelPair: ...


# ----------------------------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Budget:
    """Training budget shared by every method of a suite, so rows are compared at equal data and steps."""

    steps: int = 40
    batch_size: int = 8
    # LoRA learning rate. A pilot on the tiny family (arith, seed 0) found 5e-4 and 2e-4 over-shoot:
    # the AR teacher learns "answer one less" and falls below the base model; 1e-4 does not.
    learning_rate: float = 1e-4
    beta: float = 0.1  # DPO's usual default (trl); LLaDA 1.5 uses 0.2 at 7B scale


@dataclass
class AlignContext:
    pair: ModelPair
    task: Task
    data: TaskData
    budget: Budget
    seed: int
    workdir: Path
    shared: Any  # benchmark.core.store.SharedArtifacts: cache for work several methods reuse
    cost: Any  # benchmark.core.cost.CostMeter of this cell; methods add reused costs to it


@dataclass
class AlignedModel:
    """A model folder ``from_pretrained`` loads, and how to decode it (``kind``)."""

    path: Path
    kind: Literal["ar", "dllm"]
    info: dict = field(default_factory=dict)


class Method(ABC):
    """An alignment method (one leaderboard row). ``Config`` is a dataclass of its settings."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    paper_title: ClassVar[str | None] = None
    paper_id: ClassVar[str | None] = None
    # Methods whose shared work (``ctx.shared``) this one reuses: when selected, their cell of the same
    # (family, task, seed) runs first, so that parallel executors never build that work twice.
    reuses: ClassVar[tuple[str, ...]] = ()

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def config_dict(self) -> dict:
        return asdict(self.config) if is_dataclass(self.config) else {}

    @abstractmethod
    def align(self, ctx: AlignContext) -> AlignedModel: ...
