"""The result store: one JSON record (+ a samples ``.jsonl``) per cell, written atomically.

Layout under ``<out>/<suite>/``::

    cells/<family>/<method>/<task>/seed<k>.json           the record (schema below)
    cells/<family>/<method>/<task>/seed<k>.samples.jsonl  prompt, response, per-item scores
    artifacts/<name>-<hash>/                              work several cells share (e.g. the AR teacher)

A record is complete when its JSON exists: the samples file is written first, then the JSON, each via
a temporary file and ``os.replace``, so a killed run leaves either the old record or the new one.

Record schema (``schema`` 1):
    cell: {suite, family, method, task, seed}; config_hash: hash of ``config``; config: everything that
    determines the result; metrics: {name: {value, stderr, display, higher_is_better}} in percent,
    including ``win_rate`` against the base model; main_metric: the leaderboard score; n_eval;
    cost: {align, eval} (see CostMeter);
    versions: package versions; git_revision; created (UTC ISO time).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.hashing import config_hash

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_json(obj):
    """``obj`` with every NaN or infinity replaced by None: JSON has no NaN, and a reader must not meet one."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` that never writes NaN (see ``finite_json``)."""
    return json.dumps(finite_json(obj), allow_nan=False, **kwargs)


@dataclass(frozen=True)
class CellKey:
    suite: str
    family: str
    method: str
    task: str
    seed: int

    def label(self) -> str:
        return f"{self.family}/{self.method}/{self.task}/seed{self.seed}"


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def record_path(self, key: CellKey) -> Path:
        return self.root / "cells" / key.family / key.method / key.task / f"seed{key.seed}.json"

    def samples_path(self, key: CellKey) -> Path:
        return self.record_path(key).with_suffix(".samples.jsonl")

    def load(self, key: CellKey) -> dict | None:
        path = self.record_path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("%s is unreadable (%s); the cell will be rerun", path, exc)
            return None

    def is_done(self, key: CellKey, cfg_hash: str) -> bool:
        record = self.load(key)
        return bool(record) and record.get("config_hash") == cfg_hash and self.samples_path(key).is_file()

    def write(self, key: CellKey, record: dict, samples: list[dict]) -> Path:
        atomic_write_text(self.samples_path(key), "".join(dumps(s) + "\n" for s in samples))
        path = self.record_path(key)
        atomic_write_text(path, dumps(record, indent=2, sort_keys=True))
        return path

    def samples(self, key: CellKey) -> list[dict]:
        path = self.samples_path(key)
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def records(self) -> Iterator[tuple[Path, dict]]:
        """Every complete record under this store, in a stable order."""
        for path in sorted((self.root / "cells").glob("*/*/*/seed*.json")):
            try:
                yield path, json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                log.warning("skipping unreadable result file %s (%s)", path, exc)


class SharedArtifacts:
    """Work that several cells reuse, built once per key into a temporary folder and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def get_or_build(self, name: str, key: dict, build: Callable[[Path], dict]) -> tuple[Path, dict]:
        """Return (folder, meta). ``build(tmp)`` fills ``tmp`` and returns meta (JSON-able)."""
        final = self.root / f"{name}-{config_hash(key)}"
        meta_file = final / "meta.json"
        if meta_file.is_file():
            return final, json.loads(meta_file.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a folder without meta.json is a leftover of an interrupted build
            shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            meta = {"key": key, **build(tmp)}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final, {**meta, "built_now": True}
