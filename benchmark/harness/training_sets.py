"""Where a suite's data comes from: the training pairs of each training set and the eval tasks' files.

A training set is either a synthetic task's own pairs (drawn per seed by ``Task.build``, prompts raw and
formatted by the family's chat prompt, as the tiny family was trained) or preference data read through a
``benchmark.preference_data`` plugin (a file or a hub dataset), split deterministically (the held-out
pairs are the same for every seed, for gamma selection; then the budget's steps x batch pairs) and cut to
the set's token limits by ``fit_to_budget``'s stated rule, prompts rendered with the DLLM's chat template.
The counts (kept, truncated, dropped) are recorded in every cell.

A file a suite names is looked up beside the suite file, then under ``--data-dir``; missing, the hub
dataset is used only when no ``--data-dir`` was given (the user who gives one meant the file).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path

from benchmark.core.api import ModelPair, PreferencePair, TaskData
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash, file_sha256
from benchmark.core.preference_data import HubDataset, PreferenceOrigin, fit_to_budget, select
from benchmark.core.registry import TASKS
from benchmark.models.loading import load_tokenizer


@dataclasses.dataclass(frozen=True)
class TrainingSet:
    """What a method sees as ``ctx.task``: the training set's name and a version of its definition."""

    name: str
    version: str


def training_set(spec) -> TrainingSet:
    """A synthetic set keeps its task's name and version (the AR teacher's cache key as before)."""
    if spec.synthetic:
        return TrainingSet(spec.task, TASKS.get(spec.task).version)
    return TrainingSet(spec.name, config_hash(asdict(spec))[:8])


def find_file(name: str, data_dir) -> Path | None:
    """A file a suite names: as given (already resolved beside the suite file), else under --data-dir."""
    path = Path(name)
    if not path.exists() and not path.is_absolute() and data_dir:
        path = Path(data_dir) / path
    return path if path.is_file() else None


def _missing(suite, data_dir, what: str, name: str) -> BenchmarkError:
    under = f" and under --data-dir {data_dir}" if data_dir else ""
    return BenchmarkError(f"{suite.source}: {what} {name!r}: no such file (looked beside the suite file{under})")


def preference_origin(suite, spec, data_dir) -> PreferenceOrigin:
    """A file-or-hub training set's pairs: its file when found, else (no --data-dir given) its hub dataset."""
    hub = HubDataset(spec.hub, spec.hub_config, spec.hub_split, spec.hub_data_dir) if spec.hub else None
    if spec.path:
        found = find_file(spec.path, data_dir)
        if found is not None:
            return PreferenceOrigin(spec.format, found, None)
        if hub is None or data_dir:
            table = "[preference]" if spec.name == "preference" else f"[train.{spec.name}]"
            raise _missing(suite, data_dir, f"{table} path", spec.path)
    return PreferenceOrigin(spec.hub_format or spec.format, None, hub)


def source_identity(suite, spec, data_dir) -> dict:
    """What the training pairs are, for the cell's config: the task and its version, or file sha / hub id."""
    if spec.synthetic:
        return {"task": spec.task, "version": TASKS.get(spec.task).version}
    return preference_origin(suite, spec, data_dir).identity()


def eval_data(suite, spec, task, data_dir) -> Path | None:
    """An eval task's file when found (see ``preference_origin``); None: the task's hub dataset."""
    if spec.data is None:
        return None
    found = find_file(spec.data, data_dir)
    if found is None and (data_dir or getattr(task, "hub", None) is None):
        raise _missing(suite, data_dir, "[eval.*] data", spec.data)
    return found


def file_digest(path: Path | None) -> str | None:
    return file_sha256(path) if path and Path(path).is_file() else None


def training_pairs(suite, spec, pair: ModelPair, seed: int, data_dir) -> tuple[TaskData, dict, ModelPair]:
    """(the seed's training and held-out pairs, their counts, the pair as methods see it).

    Synthetic pairs keep raw prompts and the family's chat prompt; preference data arrives rendered with the
    DLLM's chat template, so methods see ``chat_prompt = "{prompt}"``."""
    if spec.synthetic:
        data = TASKS.get(spec.task)().build(seed, suite.n_train, spec.n_heldout, 0)
        return TaskData(data.train, data.heldout, []), {"train": {"kept": len(data.train)},
                                                        "heldout": {"kept": len(data.heldout)}}, pair
    fitted, counts = _fitted(suite, spec, pair, seed, data_dir)
    if not fitted["train"]:
        raise BenchmarkError(f"{preference_origin(suite, spec, data_dir).describe()}: no training pair is left after "
                             f"the token limits of training set {spec.name!r}")
    return TaskData(fitted["train"], fitted["heldout"], []), counts, dataclasses.replace(pair, chat_prompt="{prompt}")


def evaluation_pairs(suite, spec, pair: ModelPair, data_dir) -> tuple[list[PreferencePair], dict]:
    """The training set's evaluation pairs (the held-out preference task's items): ``heldout_order``'s
    ``n_eval_pairs`` after the ``n_heldout`` gamma pairs, the same for every seed and never trained on, cut
    and rendered as the training pairs are; with where they come from, for the record."""
    if spec.synthetic or not spec.n_eval_pairs:
        raise BenchmarkError(f"{suite.source}: the held-out preference task scores a file-or-hub training set with "
                             f"n_eval_pairs > 0; training set {spec.name!r} has none")
    fitted, counts = _fitted(suite, spec, pair, 0, data_dir)
    where = {"train": spec.name, "heldout_order": [spec.n_heldout, spec.n_heldout + spec.n_eval_pairs],
             "source": preference_origin(suite, spec, data_dir).identity(), "counts": counts["eval"]}
    return fitted["eval"], where


def _fitted(suite, spec, pair: ModelPair, seed: int, data_dir) -> tuple[dict, dict]:
    origin = preference_origin(suite, spec, data_dir)
    skipped: dict = {}
    parts = select(origin.load(skipped), suite.n_train, spec.n_heldout, seed, spec.n_eval_pairs)
    tok = load_tokenizer(pair.dllm_path)
    counts, fitted = {}, {}
    for name, part in zip(("train", "heldout", "eval"), parts):
        kept, c = fit_to_budget(part, tok, spec.max_prompt_tokens, spec.max_response_tokens)
        fitted[name] = [PreferencePair(p.render(tok), p.chosen, p.rejected) for p in kept]
        counts[name] = {"kept": c.kept, "prompt_truncated": c.prompt_truncated,
                        "response_truncated": c.response_truncated, "dropped_identical": c.dropped_identical}
    counts["skipped_rows"] = dict(skipped)
    return fitted, counts
