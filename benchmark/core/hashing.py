"""Stable hashes of JSON-able configs and of data files: the keys of cached builds and result cells."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any, length: int = 12) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def file_sha256(path: str | Path) -> str:
    """sha256 (16 hex digits) of a file's bytes, computed once per (path, size, mtime) in a process however
    many cells fingerprint the same data file."""
    st = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def weights_sha256(folder: str | Path) -> dict[str, str]:
    """{relative path: sha256} of every safetensors file under ``folder``: what a cached build records, so a
    damaged copy is caught before it is scored."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*.safetensors"))}


def damaged_weights(folder: str | Path, recorded: dict[str, str]) -> list[str]:
    """The files of ``recorded`` whose bytes no longer match (or that are gone)."""
    folder = Path(folder)
    return [name for name, digest in sorted(recorded.items())
            if not (folder / name).is_file() or file_sha256(folder / name) != digest]
