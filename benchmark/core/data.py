"""Reading user-supplied rows (jsonl, csv) with errors that name the file, the line and the field."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from benchmark.core.errors import BenchmarkError

T = TypeVar("T")


class DataError(BenchmarkError):
    """Malformed input data; the message starts with ``file:line``."""


def text_field(row: dict, name: str, where: str, allow_empty: bool = False) -> str:
    """``row[name]`` as a string; missing, non-string or (unless allowed) blank values are errors."""
    if name not in row:
        raise DataError(f"{where}: missing field {name!r}")
    value = row[name]
    if not isinstance(value, str):
        raise DataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise DataError(f"{where}: field {name!r} is empty")
    return value


def iter_jsonl(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield (``file:line``, row) for each non-blank line of a jsonl file.

    Also reads a JSON array (a ``.json`` file whose text starts with ``[``; rows are named ``file[i]``)
    and either one gzip-compressed (``.gz``), as AlpacaEval's reference outputs are shipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".gz":
        import gzip

        try:
            raw_all = gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from exc
        inner = path.with_suffix("")
    else:
        raw_all, inner = None, path
    if inner.suffix == ".json":
        data = raw_all if raw_all is not None else path.read_bytes()
        if data.lstrip()[:1] == b"[":
            try:
                rows = json.loads(data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}, column {exc.colno})") from exc
            for i, row in enumerate(rows):
                yield f"{path}[{i}]", row
            return
    lines = (raw_all.splitlines(keepends=True) if raw_all is not None else None)
    with (path.open("rb") if lines is None else contextlib.nullcontext(lines)) as fh:
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


def iter_csv(path: str | Path, required: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (``file:line``, row) for each CSV record (header first; a UTF-8 byte-order mark is accepted).

    Broken quoting or a record with the wrong number of fields is an error naming its line, as are bytes
    that are not UTF-8 and missing ``required`` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line where the record being read begins: where an unclosed quote was opened
    try:
        missing = [f for f in required if f not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {missing}; found {reader.fieldnames}")
        start = reader.line_num + 1
        for row in reader:
            where = f"{path}:{start}"
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{where}: wrong number of fields (broken quoting?)")
            yield where, row
            start = reader.line_num + 1
    except csv.Error as exc:
        hint = "; a quote opened in this record is never closed" if "end of data" in str(exc) else ""
        raise DataError(f"{path}:{start}: malformed CSV ({exc}{hint})") from exc


def read_rows(path: str | Path, parse: Callable[[dict, str], T]) -> list[T]:
    """Parse every row of a jsonl file with ``parse(row, where)``; an empty file is an error."""
    rows = [parse(row, where) for where, row in iter_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows
