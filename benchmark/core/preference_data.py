"""Preference data as plugins: every format becomes the same ``PreferencePair`` rows, validated.

Formats (registry ``PREFERENCE_DATA``, entry-point group ``benchmark.preference_data``):

    plain         jsonl / json / parquet rows: ``prompt``, ``chosen``, ``rejected`` as strings, or as chat
                  message lists (``[{role, content}, ...]``; the last assistant turn is the answer)
    hh-rlhf       Anthropic HH: ``chosen`` and ``rejected`` are two whole dialogues sharing every turn but
                  the last "Assistant:" answer; earlier turns become the chat history
    ultrafeedback HuggingFaceH4/ultrafeedback_binarized: ``prompt`` plus ``chosen``/``rejected`` message lists
    llamafactory  LLaMA-Factory ranking files, both shapes: alpaca (``instruction``, ``input``, ``chosen``,
                  ``rejected``) and sharegpt (``conversations`` [{from, value}], ``chosen``/``rejected``
                  {from, value}); AR-MAP's dpo_helpful/dpo_math/dpo_truthful.json use them

Each source reads a local file (``.jsonl``, ``.json``, ``.parquet``, optionally ``.gz``) or a hub dataset
through ``datasets``. A malformed row is an error naming the file (or dataset), the line (or row) and
the field. ``select`` subsamples and splits train/held-out deterministically per seed; ``fit_to_budget``
applies the budget's token limits by a stated rule and counts what it did.
"""

from __future__ import annotations

import os
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.api import PreferencePair
from benchmark.core.data import DataError, check_input_file, iter_jsonl
from benchmark.core.hashing import file_sha256
from benchmark.core.registry import Registry

PREFERENCE_DATA: Registry = Registry("preference data format", "benchmark.preference_data")
register_preference_data = PREFERENCE_DATA.register
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatPair:
    """A preference with its chat history: ``messages`` end with the user turn both answers reply to."""

    messages: tuple[dict, ...]
    chosen: str
    rejected: str

    @property
    def prompt(self) -> str:
        return self.messages[-1]["content"]

    def as_pair(self) -> PreferencePair:
        return PreferencePair(self.prompt, self.chosen, self.rejected)

    def render(self, tok) -> str:
        """The prompt as model input: the tokenizer's chat template over the whole history."""
        messages = [dict(m) for m in self.messages]
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"


@dataclass(frozen=True)
class HubDataset:
    id: str
    config: str | None = None
    split: str = "train"
    data_dir: str | None = None  # a subset stored as a folder of the dataset (hh-rlhf's "helpful-base")


@dataclass(frozen=True)
class PreferenceOrigin:
    """Where one run's preference pairs come from, resolved: a local file or a hub dataset, in a format."""

    format: str
    path: Path | None = None
    hub: HubDataset | None = None

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        hub = self.hub or PREFERENCE_DATA.get(self.format).hub
        return f"hub {hub.id}" + (f"/{hub.data_dir}" if hub and hub.data_dir else "") + f"[{hub.split}]"

    def identity(self) -> dict:
        """What results depend on (not how the path is spelled): the file's name and digest, or the hub id."""
        if self.path is not None:
            return {"format": self.format, "file": self.path.name, "sha256": file_sha256(self.path)}
        return {"format": self.format, "hub": self.describe()}

    def load(self, skipped: dict | None = None) -> list[ChatPair]:
        return load_preference_data(self.format, self.path, self.hub, skipped)


# ------------------------------------------------------------------ helpers
def _text(row: dict, name: str, where: str) -> str:
    value = row.get(name) if isinstance(row, dict) else None
    if name not in row:
        raise DataError(f"{where}: missing field {name!r}")
    if not isinstance(value, str):
        raise DataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{where}: field {name!r} is empty")
    return value


def _messages(value: Any, where: str, name: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: field {name!r} must be a non-empty list of messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataError(f"{where}: field {name!r}[{i}] must be {{role: system|user|assistant, content: str}}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _answer_of(messages: list[dict], where: str, name: str) -> tuple[list[dict], str]:
    """(history, final assistant answer) of a message list."""
    if messages[-1]["role"] != "assistant":
        raise DataError(f"{where}: field {name!r} must end with an assistant message (the answer)")
    if not messages[-1]["content"].strip():
        raise DataError(f"{where}: field {name!r}: the final assistant answer is empty")
    return messages[:-1], messages[-1]["content"]


class SkipRow(Exception):
    """A well-formed row that carries no preference (the two answers are equal): skipped and counted."""


def _pair(history: list[dict], chosen: str, rejected: str, where: str) -> ChatPair:
    if not history or history[-1]["role"] != "user":
        raise DataError(f"{where}: the conversation before the answers must end with a user turn")
    if chosen.strip() == rejected.strip():
        raise SkipRow("identical answers")
    return ChatPair(tuple(history), chosen, rejected)


def rows_of(path: Path) -> Iterator[tuple[str, dict]]:
    """(``file:line`` or ``file[i]``, row) for jsonl, json arrays, parquet, each optionally gzip-compressed."""
    path = check_input_file(path)
    if path.suffix == ".parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataError(f"{path}: unreadable parquet file ({type(exc).__name__}: {exc})") from exc
        for i, row in enumerate(frame.to_dict(orient="records")):
            yield f"{path}[{i}]", {k: _plain(v) for k, v in row.items()}
        return
    yield from iter_jsonl(path)


def _plain(value):
    """numpy arrays from parquet -> lists, so message lists validate like JSON's."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------ the interface
class PreferenceSource(ABC):
    """One preference-data format: ``parse`` validates one row into a ``ChatPair``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    hub: ClassVar[HubDataset | None] = None

    @abstractmethod
    def parse(self, row: dict, where: str) -> ChatPair: ...

    def load(self, path: Path | None = None, hub: HubDataset | None = None) -> list[ChatPair]:
        if path is not None:
            rows, source = rows_of(Path(path)), str(path)
        else:
            hub = hub or self.hub
            if hub is None:
                raise DataError(f"preference data {self.name!r} has no hub dataset: give a file")
            rows, source = _hub_rows(hub), hub.id
        out = []
        self.skipped: dict[str, int] = {}
        for where, row in rows:
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            try:
                out.append(self.parse(row, where))
            except SkipRow as why:
                self.skipped[str(why)] = self.skipped.get(str(why), 0) + 1
        if not out:
            raise DataError(f"{source}: no usable rows" + (f" (skipped: {self.skipped})" if self.skipped else ""))
        return out


def _hub_rows(hub: HubDataset) -> Iterator[tuple[str, dict]]:
    import datasets

    try:
        ds = datasets.load_dataset(hub.id, hub.config, split=hub.split, data_dir=hub.data_dir)
    except Exception as exc:
        raise DataError(f"hub dataset {hub.id!r} (config {hub.config!r}, data_dir {hub.data_dir!r}, split "
                        f"{hub.split!r}) could not be loaded: "
                        f"{type(exc).__name__}: {str(exc)[:300]}. Offline? Give a local file instead (a suite: "
                        "its [preference] path, found beside the suite file or under --data-dir)") from exc
    for i, row in enumerate(ds):
        yield f"{hub.id}[{hub.split}]:{i}", dict(row)


@register_preference_data("plain")
class PlainPairs(PreferenceSource):
    name = "plain"
    description = "prompt/chosen/rejected strings or chat message lists (jsonl, json, parquet)"

    def parse(self, row: dict, where: str) -> ChatPair:
        if isinstance(row.get("chosen"), list):
            chosen_history, chosen = _answer_of(_messages(row["chosen"], where, "chosen"), where, "chosen")
            rejected_history, rejected = _answer_of(_messages(row.get("rejected"), where, "rejected"), where,
                                                    "rejected")
            if "prompt" in row and isinstance(row["prompt"], str):
                history = chosen_history or [{"role": "user", "content": _text(row, "prompt", where)}]
            elif "prompt" in row:
                history = _messages(row["prompt"], where, "prompt")
            else:
                history = chosen_history
            if rejected_history and chosen_history and rejected_history != chosen_history:
                raise DataError(f"{where}: fields 'chosen' and 'rejected' have different conversations before "
                                "their answers")
            return _pair(history, chosen, rejected, where)
        prompt = row.get("prompt")
        history = _messages(prompt, where, "prompt") if isinstance(prompt, list) else [
            {"role": "user", "content": _text(row, "prompt", where)}]
        return _pair(history, _text(row, "chosen", where), _text(row, "rejected", where), where)


@register_preference_data("ultrafeedback")
class UltraFeedback(PlainPairs):
    name = "ultrafeedback"
    description = "HuggingFaceH4/ultrafeedback_binarized (prompt + chosen/rejected message lists)"
    hub = HubDataset("HuggingFaceH4/ultrafeedback_binarized", None, "train_prefs")


_HUMAN, _ASSISTANT = "\n\nHuman:", "\n\nAssistant:"


def _hh_turns(text: str, where: str, name: str) -> list[dict]:
    """"\\n\\nHuman: ...\\n\\nAssistant: ..." -> messages."""
    if not text.startswith(_HUMAN):
        raise DataError(f"{where}: field {name!r} must start with '\\n\\nHuman:' (an Anthropic HH dialogue)")
    turns, rest = [], text
    while rest:
        role = "user" if rest.startswith(_HUMAN) else "assistant" if rest.startswith(_ASSISTANT) else None
        if role is None:
            raise DataError(f"{where}: field {name!r}: cannot read the dialogue near {rest[:40]!r}")
        rest = rest[len(_HUMAN if role == "user" else _ASSISTANT):]
        cut = min([i for i in (rest.find(_HUMAN), rest.find(_ASSISTANT)) if i >= 0], default=len(rest))
        turns.append({"role": role, "content": rest[:cut].strip()})
        rest = rest[cut:]
    return turns


@register_preference_data("hh-rlhf")
class AnthropicHH(PreferenceSource):
    """The two dialogues share every turn but the last "Assistant:" answer; split there."""

    name = "hh-rlhf"
    description = "Anthropic HH (chosen/rejected dialogues sharing a prefix; split at the last Assistant turn)"
    hub = HubDataset("Anthropic/hh-rlhf", None, "train")

    def parse(self, row: dict, where: str) -> ChatPair:
        chosen_text, rejected_text = _text(row, "chosen", where), _text(row, "rejected", where)
        for name, text in (("chosen", chosen_text), ("rejected", rejected_text)):
            if _ASSISTANT not in text:
                raise DataError(f"{where}: field {name!r} has no '\\n\\nAssistant:' turn")
        # The answers start after the last "Assistant:" the two dialogues share (as trl's extract_prompt):
        # an answer may itself run on into a made-up "\n\nAssistant:" turn, which stays part of it.
        shared = len(os.path.commonprefix([chosen_text, rejected_text]))
        c_cut = chosen_text.rfind(_ASSISTANT, 0, shared)
        if c_cut < 0:
            raise DataError(f"{where}: fields 'chosen' and 'rejected' differ before their last Assistant turn")
        r_cut = c_cut
        history = _hh_turns(chosen_text[:c_cut], where, "chosen")
        chosen = chosen_text[c_cut + len(_ASSISTANT):].strip()
        rejected = rejected_text[r_cut + len(_ASSISTANT):].strip()
        # An empty answer is a real answer (the assistant said nothing; in harmless-base it is often the
        # preferred one), so it is kept; two equal answers carry no preference and are skipped.
        return _pair(history, chosen, rejected, where)


_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system"}


@register_preference_data("llamafactory")
class LlamaFactoryRanking(PreferenceSource):
    """LLaMA-Factory's ranking data: alpaca (instruction/input/chosen/rejected) or sharegpt (conversations)."""

    name = "llamafactory"
    description = "LLaMA-Factory ranking files: alpaca (instruction/input) or sharegpt (conversations) shape"

    def parse(self, row: dict, where: str) -> ChatPair:
        if "conversations" in row:
            turns = row["conversations"]
            if not isinstance(turns, list) or not turns:
                raise DataError(f"{where}: field 'conversations' must be a non-empty list of {{from, value}}")
            history = []
            for i, t in enumerate(turns):
                if not isinstance(t, dict) or t.get("from") not in _SHAREGPT_ROLES or not isinstance(
                        t.get("value"), str):
                    raise DataError(f"{where}: field 'conversations'[{i}] must be {{from: human|gpt|system, "
                                    "value: str}")
                history.append({"role": _SHAREGPT_ROLES[t["from"]], "content": t["value"]})
            if isinstance(row.get("system"), str) and row["system"].strip():
                history.insert(0, {"role": "system", "content": row["system"]})
            answers = []
            for name in ("chosen", "rejected"):
                value = row.get(name)
                if isinstance(value, dict) and isinstance(value.get("value"), str):
                    value = value["value"]
                if not isinstance(value, str) or not value.strip():
                    raise DataError(f"{where}: field {name!r} must be {{from: gpt, value: non-empty str}} or a string")
                answers.append(value)
            return _pair(history, answers[0], answers[1], where)
        instruction = _text(row, "instruction", where)
        extra = row.get("input") or ""
        if not isinstance(extra, str):
            raise DataError(f"{where}: field 'input' must be a string")
        prompt = f"{instruction}\n{extra}" if extra.strip() else instruction
        history = [{"role": "user", "content": prompt}]
        if isinstance(row.get("system"), str) and row["system"].strip():
            history.insert(0, {"role": "system", "content": row["system"]})
        return _pair(history, _text(row, "chosen", where), _text(row, "rejected", where), where)


# ------------------------------------------------------------------ selection and budget
def load_preference_data(fmt: str, path: Path | None = None, hub: HubDataset | None = None,
                         skipped: dict | None = None) -> list[ChatPair]:
    """Every usable pair of a file or hub dataset; rows whose two answers are equal are skipped and counted
    into ``skipped`` (they carry no preference), malformed rows are errors."""
    source = PREFERENCE_DATA.get(fmt)()
    pairs = source.load(path, hub)
    if skipped is not None:
        skipped.update(source.skipped)
    return pairs


HELDOUT_SHUFFLE_SEED = 20240601


def heldout_order(n_pairs: int) -> list[int]:
    """One fixed shuffle of the pair indices, the same for every seed: the held-out pairs are its first ones.
    A family adapted on the data (``smol``) leaves out a prefix of it, so held-out pairs stay unseen."""
    order = list(range(n_pairs))
    random.Random(HELDOUT_SHUFFLE_SEED).shuffle(order)
    return order


def select(pairs: list[ChatPair], n_train: int, n_heldout: int, seed: int,
           n_eval: int = 0) -> tuple[list[ChatPair], list[ChatPair], list[ChatPair]]:
    """Held-out pairs: the first ``n_heldout`` of ``heldout_order`` (the same for every seed, so gamma is
    chosen on one dev set and a model adapted on the data never saw them); evaluation pairs: the next
    ``n_eval`` (the same for every seed; the held-out preference task scores them); training pairs: the
    rest, shuffled with ``seed`` (disjoint from both)."""
    if n_train + n_heldout + n_eval > len(pairs):
        raise DataError(f"asked for {n_train} training + {n_heldout} held-out + {n_eval} evaluation pairs, but the "
                        f"data has {len(pairs)}")
    order = heldout_order(len(pairs))
    rest = order[n_heldout + n_eval:]
    random.Random(seed).shuffle(rest)
    heldout = [pairs[i] for i in order[:n_heldout]]
    evaluation = [pairs[i] for i in order[n_heldout:n_heldout + n_eval]]
    train = [pairs[i] for i in rest[:n_train]]
    return train, heldout, evaluation


@dataclass
class BudgetCounts:
    """What ``fit_to_budget`` did, recorded in the cell."""

    kept: int = 0
    prompt_truncated: int = 0
    response_truncated: int = 0
    dropped_identical: int = 0
    dropped_examples: list[str] = field(default_factory=list)


CHARS_PER_TOKEN = 64


def fit_to_budget(pairs: list[ChatPair], tok, max_prompt_tokens: int, max_response_tokens: int
                  ) -> tuple[list[ChatPair], BudgetCounts]:
    """Apply the budget's token limits. The rule: a prompt longer than ``max_prompt_tokens`` keeps its
    last messages whole while they fit (the system message and the final user turn are kept, the final
    turn cut from the left if it alone is too long); an answer longer than ``max_response_tokens`` is cut
    at that many tokens; a pair whose two cut answers are equal carries no preference and is dropped."""
    counts = BudgetCounts()
    out = []
    # A text is clipped to CHARS_PER_TOKEN characters per allowed token before it is tokenized: a field of
    # millions of characters is cut in microseconds instead of tokenized for minutes (no tokenizer's token
    # is that long, so the clip never changes which tokens are kept).
    chars = CHARS_PER_TOKEN * max(max_prompt_tokens, max_response_tokens)

    def n_tokens(text: str) -> int:
        return len(tok(text[: chars + 1], add_special_tokens=False)["input_ids"])

    def cut(text: str, limit: int, keep: str) -> str:
        clipped = text[: CHARS_PER_TOKEN * limit] if keep == "start" else text[-CHARS_PER_TOKEN * limit:]
        ids = tok(clipped, add_special_tokens=False)["input_ids"]
        return tok.decode(ids[:limit] if keep == "start" else ids[-limit:]) if len(clipped) < len(text) or \
            len(ids) > limit else text

    for pair in pairs:
        messages = list(pair.messages)
        if sum(n_tokens(m["content"]) for m in messages) > max_prompt_tokens:
            counts.prompt_truncated += 1
            system = [m for m in messages[:1] if m["role"] == "system"]
            budget = max_prompt_tokens - sum(n_tokens(m["content"]) for m in system)
            last = dict(messages[-1], content=cut(messages[-1]["content"], max(1, budget), "end"))
            kept, used = [last], n_tokens(last["content"])
            for m in reversed(messages[len(system):-1]):
                size = n_tokens(m["content"])
                if used + size > budget:
                    break
                kept.insert(0, m)
                used += size
            while kept and kept[0]["role"] == "assistant":  # a history starts with a user turn
                kept.pop(0)
            messages = system + (kept or [last])
        chosen, rejected = pair.chosen, pair.rejected
        if n_tokens(chosen) > max_response_tokens or n_tokens(rejected) > max_response_tokens:
            counts.response_truncated += 1
            chosen, rejected = cut(chosen, max_response_tokens, "start"), cut(rejected, max_response_tokens, "start")
        if chosen == rejected:
            counts.dropped_identical += 1
            if len(counts.dropped_examples) < 3:
                counts.dropped_examples.append(pair.prompt[:60])
            continue
        out.append(ChatPair(tuple(messages), chosen, rejected))
    counts.kept = len(out)
    return out, counts
