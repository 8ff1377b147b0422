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
    path = check_input_file(path)
    if path.suffix == ".gz":
        import gzip
        import zlib

        try:
            raw_all = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from exc
        inner = path.with_suffix("")
    else:
        raw_all, inner = None, path
    if inner.suffix == ".json":
        data = raw_all if raw_all is not None else path.read_bytes()
        if data.lstrip()[:1] in (b"[", b"{"):
            try:
                rows = _json(data.decode("utf-8"), str(path))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
            except DataError:
                if data.lstrip()[:1] == b"[":
                    raise
                rows = None  # not one JSON document: jsonl, read line by line below
            if isinstance(rows, dict):
                raise DataError(f"{path}: holds one JSON object; expected a JSON array of rows, or jsonl (one "
                                "object per line)")
            if rows is not None:
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
            yield where, _json(text, where, line=False)


def check_input_file(path: str | Path) -> Path:
    """An input that must be a file: missing, or a folder, is an error naming it."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; name the data file in it")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path


def _json(text: str, where: str, line: bool = True):
    """json.loads with errors that name the place: malformed, or nested too deep to read."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"{where}:{exc.lineno}" if line else where
        raise DataError(f"{at}: invalid JSON ({exc.msg}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise DataError(f"{where}: JSON nested too deeply to read (no data row is that deep)") from exc


def iter_csv(path: str | Path, required: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (``file:line``, row) for each CSV record (header first; a UTF-8 byte-order mark is accepted).

    Broken quoting or a record with the wrong number of fields is an error naming its line, as are bytes
    that are not UTF-8 and missing ``required`` columns.
    """
    path = check_input_file(path)
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
