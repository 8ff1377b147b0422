"""Safetensors checkpoint folders (single file or sharded), read through their headers only.

A ``Checkpoint`` knows every tensor's name, shape and file without loading any data; bad folders (no
weights, a missing index, an index naming absent shards, a truncated file, pickles only) raise
``TransferError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from benchmark.core.errors import BenchmarkError

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


class TransferError(BenchmarkError):
    """Incompatible or malformed checkpoints; the message lists every problem found."""


class Checkpoint:
    """A safetensors checkpoint folder, single-file or sharded, read through its headers only."""

    def __init__(self, path: str | Path) -> None:
        from safetensors import safe_open

        self.path = Path(path)
        if not self.path.is_dir():
            raise TransferError(f"{self.path}: no such checkpoint folder")
        index = self.path / INDEX_FILE
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text()).get("weight_map")
            except json.JSONDecodeError as exc:
                raise TransferError(f"{index}: invalid JSON ({exc.msg})") from exc
            if not isinstance(weight_map, dict) or not weight_map:
                raise TransferError(f"{index}: missing or empty field 'weight_map'")
            self.shards: dict[str, list[str]] = {}
            for name, shard in weight_map.items():
                if not isinstance(shard, str) or Path(shard).name != shard or shard in ("", ".", ".."):
                    raise TransferError(f"{index}: field 'weight_map' maps {name!r} to {shard!r}, which is not a "
                                        "file name inside the checkpoint folder")
                self.shards.setdefault(shard, []).append(name)
            missing = [s for s in self.shards if not (self.path / s).is_file()]
            if missing:
                raise TransferError(f"{index}: names shard file(s) that do not exist: {missing}")
        elif (self.path / WEIGHTS_FILE).is_file():
            self.shards = {WEIGHTS_FILE: None}  # names read from the header below
        else:
            pickles = sorted(p.name for p in self.path.iterdir() if p.suffix in PICKLE_SUFFIXES)
            if pickles:
                raise TransferError(f"{self.path}: only pickle checkpoints {pickles}; pickles can run code when "
                                    "loaded and are not merged. Convert them to safetensors, e.g. "
                                    "AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(NEW_DIR)")
            raise TransferError(f"{self.path}: no {WEIGHTS_FILE} or {INDEX_FILE}")
        self.shapes: dict[str, tuple[int, ...]] = {}
        for shard in list(self.shards):
            try:
                with safe_open(self.path / shard, "pt") as fh:
                    names = list(fh.keys())
                    for n in names:
                        self.shapes[n] = tuple(fh.get_slice(n).get_shape())
            except Exception as exc:  # safetensors raises its own error types for truncated files
                raise TransferError(f"{self.path / shard}: unreadable safetensors file ({exc})") from exc
            if self.shards[shard] is None:
                self.shards[shard] = names
            else:
                absent = sorted(set(self.shards[shard]) - set(names))
                if absent:
                    raise TransferError(f"{self.path / INDEX_FILE}: maps {absent[:3]} to {shard}, which lacks them")
        self.names = list(self.shapes)
        self._file_of = {n: self.path / s for s, names in self.shards.items() for n in names}

    def file_of(self, name: str) -> Path:
        return self._file_of[name]

    def config(self) -> dict:
        cfg = self.path / "config.json"
        return json.loads(cfg.read_text()) if cfg.is_file() else {}

    def fingerprint(self) -> str:
        """sha256 over each shard's name, size and header (not its data: hashing GBs would double the I/O)."""
        digest = hashlib.sha256()
        for shard in sorted(self.shards):
            digest.update(shard.encode())
            digest.update(fingerprint(self.path / shard).encode())
        return digest.hexdigest()[:16]


def fingerprint(path: Path) -> str:
    """A cheap digest of a safetensors file: its header (names, dtypes, shapes, offsets), size and modification
    time. Weights retrained in place keep their header and size but not their mtime, so a cell scored on them
    is not served as current (a copy made without keeping mtimes is scored again: the safe side)."""
    with path.open("rb") as fh:
        raw = fh.read(8)
        header_len = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        header = fh.read(min(header_len, 100_000_000))
    stat = path.stat()
    return hashlib.sha256(raw + header + f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
