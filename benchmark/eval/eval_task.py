"""Evaluation tasks: score one finished checkpoint on a real benchmark, from local files or the hub.

A preference ``Task`` (core/api.py) gives a suite its training pairs and verifier; an ``EvalTask``
scores any checkpoint (base, AR teacher, merged or trained DLLM) on a benchmark's own prompts the way
the paper does: AlpacaEval and Arena-Hard win rate against the base model's answers, TruthfulQA MC2,
GSM8K, MATH500, IFEval. Adapters live in ``tasks/`` and register with ``@register_eval_task``
(entry-point group ``benchmark.eval_tasks``); results are cells of the result store, so the
leaderboard ranks them like any other.

    python -m benchmark eval --task gsm8k --model-dir DIR --kind dllm --data gsm8k_test.jsonl --limit 50
    python -m benchmark eval --task alpacaeval --model-dir DIR --kind dllm --data alpacaeval.jsonl \\
        --set base=alpaca-dream-base.jsonl --set judge=rule
    python -m benchmark eval --task gsm8k ...               # no --data: the hub dataset (network or HF cache)

Every row is validated when loaded (file or hub), and an error names the file (or dataset), the line
(or row index) and the field.
"""

from __future__ import annotations

import difflib
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.data import DataError, iter_csv, iter_jsonl
from benchmark.core.errors import BenchmarkError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub (or any path ``datasets.load_dataset`` accepts)."""

    id: str
    config: str | None = None
    split: str = "test"


@dataclass(frozen=True)
class Option:
    """A task option, set with ``--set name=value`` on the command line."""

    default: Any
    help: str
    type: Callable[[str], Any] = str


@dataclass
class EvalRun:
    """Where the data comes from and what the user set; ``options`` are already typed."""

    data: Path | None = None
    hub: HubSource | None = None
    limit: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    # Inside a suite: the family's ``ModelPair`` (chat prompt, sampler) and the base row's per-item samples of
    # the same task and seed (the reference of a win rate; None for the base row itself).
    family: Any = None
    reference: list[dict] | None = None
    # Inside a suite, for a task that scores the unit's training set (``scores_training_pairs``): its evaluation
    # pairs (never trained on, disjoint from the gamma pairs) and where they come from.
    pairs: list | None = None
    pairs_origin: dict | None = None


POSITIVE_OPTIONS = ("samples", "max_new_tokens")  # counts of which 0 would score nothing


class EvalTask(ABC):
    """A benchmark adapter: rows -> items (validated), and items + model -> metrics and samples.

    Subclasses set ``name``, ``version`` (part of the cell's config hash: bump it when scoring changes),
    ``description``, ``hub`` (the default dataset), ``options``, and implement ``parse_row`` and
    ``evaluate``. ``parse_hub_row`` maps the hub's schema when it differs from the local file's.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    hub: ClassVar[HubSource | None] = None
    options: ClassVar[dict[str, Option]] = {}
    # Options that change what is measured (not just how fast): a non-default value becomes part of the
    # stored cell's task name, so results under different settings never share a cell.
    identity_options: ClassVar[tuple[str, ...]] = ()
    # True: inside a suite the task scores the unit's training set's evaluation pairs (``EvalRun.pairs``)
    scores_training_pairs: ClassVar[bool] = False

    @abstractmethod
    def parse_row(self, row: dict, where: str) -> Any:
        """One validated item from one local row; raise DataError naming ``where`` and the field."""

    def parse_hub_row(self, row: dict, where: str) -> Any:
        return self.parse_row(row, where)

    @abstractmethod
    def evaluate(self, lm, items: list, run: EvalRun) -> tuple[dict[str, dict], list[dict]]:
        """(metrics {name: {value (percent), stderr, display, higher_is_better}}, per-item samples).

        ``lm`` is one of our lm-eval model classes (``BenchLM`` or ``BenchARLM``), or None when
        ``needs_model`` says the run needs none (e.g. judging answers given in a file)."""

    def needs_model(self, run: EvalRun) -> bool:
        return True

    def validate(self, run: EvalRun) -> None:
        """Check the options before any model is loaded (a bad option must not cost a model load)."""
        return None

    # ------------------------------------------------------------------ loading
    def load_file(self, path: Path) -> list:
        """jsonl, or CSV (by suffix) with one column per field."""
        rows = iter_csv(path) if Path(path).suffix.lower() == ".csv" else iter_jsonl(path)
        items = []
        for where, row in rows:
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            items.append(self.parse_row(row, where))
        return items

    def load(self, run: EvalRun) -> list:
        if run.data is not None:
            items = self.load_file(Path(run.data))
            source = str(run.data)
        else:
            hub = run.hub or self.hub
            if hub is None:
                raise DataError(f"task {self.name!r} has no hub dataset: pass --data FILE")
            items = [self.parse_hub_row(dict(row), where) for where, row in hub_rows(hub)]
            source = hub.id
        if not items:
            raise DataError(f"{source}: no rows")
        return items[: run.limit] if run.limit else items

    def resolve_options(self, raw: dict[str, str]) -> dict[str, Any]:
        """Typed options from ``--set`` strings; an unknown name is an error with suggestions."""
        out = {name: opt.default for name, opt in self.options.items()}
        for key, value in raw.items():
            if key not in self.options:
                close = difflib.get_close_matches(key, list(self.options), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                known = ", ".join(sorted(self.options)) or "none"
                raise BenchmarkError(f"task {self.name!r} has no option {key!r}{hint} (options: {known})")
            try:
                out[key] = self.options[key].type(value)
            except (TypeError, ValueError) as exc:
                raise BenchmarkError(f"--set {key}={value!r}: {exc}") from exc
            if key in POSITIVE_OPTIONS and not (isinstance(out[key], int | float) and out[key] >= 1):
                raise BenchmarkError(f"--set {key}={value!r}: task {self.name!r} needs {key} >= 1")
            if isinstance(out[key], float) and not math.isfinite(out[key]):
                raise BenchmarkError(f"--set {key}={value!r}: must be a finite number")
        return out


def hub_rows(source: HubSource) -> Iterator[tuple[str, dict]]:
    """(``id[split]:row``, row) from ``datasets.load_dataset``; a failure says how to work offline."""
    import datasets

    try:
        ds = datasets.load_dataset(source.id, source.config, split=source.split)
    except Exception as exc:  # connection errors, missing configs or splits, bad local folders
        raise DataError(f"hub dataset {source.id!r} (config {source.config!r}, split {source.split!r}) could not "
                        f"be loaded: {type(exc).__name__}: {str(exc)[:300]}. Offline? Pass --data FILE "
                        "(a local copy) or fill the HF datasets cache first") from exc
    for i, row in enumerate(ds):
        yield f"{source.id}[{source.split}]:{i}", row


# ------------------------------------------------------------------ shared helpers for adapters
def chat(lm, prompt: str) -> str:
    """The model's chat template around one user turn (plain text when it has none)."""
    tok = lm.tok
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                       add_generation_prompt=True)
    return prompt


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def percent(mean: float, stderr: float | None, display: str) -> dict:
    return {"value": 100 * mean, "stderr": None if stderr is None else 100 * stderr, "display": display,
            "higher_is_better": True}
