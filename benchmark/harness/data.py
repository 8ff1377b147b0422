"""Reading user-supplied rows (jsonl) with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from benchmark.harness.errors import BenchmarkError

T = TypeVar("T")


class DataError(BenchmarkError):
    """Malformed input data; the message starts with ``file:line``."""


def iter_jsonl(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield (``file:line``, row) for each non-blank line of a jsonl file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON ({exc.msg}, column {exc.colno})") from exc
            yield where, row


def read_rows(path: str | Path, parse: Callable[[dict, str], T]) -> list[T]:
    """Parse every row of a jsonl file with ``parse(row, where)``; an empty file is an error."""
    rows = [parse(row, where) for where, row in iter_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows
