"""Rewrite one safetensors shard with some tensors updated in place, streaming, near the speed of `cp`.

Why by hand: safetensors' ``load_file``/``save_file`` hold a whole shard (twice, with the result), and a
merge keeps every dtype, shape and byte offset, so the header can be copied verbatim and each tensor
rewritten where it lies. The pipeline, per shard:

- untouched tensors: ``os.copy_file_range`` (an in-kernel copy, what `cp` does), or read/write where the
  platform has none;
- updated tensors, a block of rows at a time: widen to fp32 straight from a private memory map of the
  input (no copy into a user buffer; ``pread`` where there is no ``madvise``), apply
  ``update(name, row0, row1, block)``, cast back, ``pwrite`` at the same offset. Blocks are independent,
  so one thread per core (the caller among them) takes blocks from a shared list and runs each end to
  end (file I/O and torch release the GIL), each torch op on one thread.

Memory: per worker, one fp32 block and a block in the tensor's dtype (a few MiB); each block's mapped
input pages are released once it is widened, so resident memory does not grow with the shard.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from benchmark.align.checkpoint import TransferError

DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64}
BLOCK_BYTES = 4 << 20  # fp32 bytes per block: large enough to amortise op overhead, small enough for caches

Update = Callable[[str, int, int, torch.Tensor], None]
"""``update(name, row0, row1, block)``: add the delta of rows [row0, row1) into ``block`` (fp32, in place)."""


def read_header(src: Path) -> tuple[bytes, int, list[tuple[int, int, str, dict]]]:
    """(raw header with its length prefix, data start, [(start, end, name, info)] sorted by offset)."""
    size = src.stat().st_size
    with src.open("rb") as fin:
        prefix = fin.read(8)
        if len(prefix) < 8:
            raise TransferError(f"{src}: unreadable safetensors file (shorter than its header)")
        length = struct.unpack("<Q", prefix)[0]
        if length > size - 8:
            raise TransferError(f"{src}: unreadable safetensors file (header length {length} > file size)")
        header_bytes = fin.read(length)
    try:
        header = json.loads(header_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TransferError(f"{src}: unreadable safetensors header ({exc})") from exc
    entries = sorted((v["data_offsets"][0], v["data_offsets"][1], k, v) for k, v in header.items()
                     if k != "__metadata__")
    data_start = 8 + length
    if entries and size < data_start + entries[-1][1]:
        raise TransferError(f"{src}: file ends before its last tensor (truncated)")
    return prefix + header_bytes, data_start, entries


def default_workers() -> int:
    """One thread per core, at most 8: buffered writes into one file take its lock in the kernel one at a
    time, so past a few threads more of them mostly wait."""
    return min(8, os.cpu_count() or 1)


def rewrite_shard(src: Path, dst: Path, names: set[str], update: Update, block_bytes: int = BLOCK_BYTES,
                  workers: int | None = None) -> list[str]:
    """Write ``src`` to ``dst`` with ``update`` applied to the tensors in ``names``; return those updated.

    Blocks are independent (each is written at its own offset), so ``workers`` threads (default: one per core,
    at most 8) each run read -> fp32 -> update -> cast -> pwrite end to end, with torch limited to one
    thread apiece for the duration. ``update`` must be safe to call from several threads.
    """
    header, data_start, entries = read_header(src)
    for _, _, name, info in entries:
        if name in names and info["dtype"] not in DTYPES:
            raise TransferError(f"{src}: tensor {name} has dtype {info['dtype']}, which cannot take a delta")
    size = src.stat().st_size
    workers = workers or default_workers()
    updated = []
    with ExitStack() as opened:  # closed in reverse order, whatever fails
        fd_in = os.open(src, os.O_RDONLY)
        opened.callback(os.close, fd_in)
        source = _Source(fd_in, size)
        opened.callback(source.close)
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        opened.callback(os.close, fd_out)
        os.pwrite(fd_out, header, 0)
        jobs: list[Callable[[], None]] = []
        cursor = data_start
        for start, end, name, info in entries:
            lo, hi = data_start + start, data_start + end
            if lo > cursor:  # padding between tensors, if any: kept as is
                jobs.append(partial(_copy_range, fd_in, fd_out, cursor, lo))
            cursor = max(cursor, hi)
            if name not in names:
                jobs.append(partial(_copy_range, fd_in, fd_out, lo, hi))
                continue
            jobs += [partial(_rewrite_block, source, fd_out, block, update)
                     for block in _blocks(name, info, lo, block_bytes)]
            updated.append(name)
        if cursor < size:
            jobs.append(partial(_copy_range, fd_in, fd_out, cursor, size))
        with _torch_threads(1):
            _run_jobs(jobs, workers)
        if os.fstat(fd_out).st_size != size:
            raise TransferError(f"{dst}: wrote {os.fstat(fd_out).st_size} bytes, expected {size}")
    return updated


@dataclass(frozen=True)
class _Block:
    name: str
    dtype: torch.dtype
    row0: int
    row1: int
    row_elems: int
    offset: int  # byte offset of row0 in the file

    @property
    def count(self) -> int:
        return (self.row1 - self.row0) * self.row_elems


def _blocks(name: str, info: dict, lo: int, block_bytes: int) -> Iterator[_Block]:
    dtype, shape = DTYPES[info["dtype"]], info["shape"]
    n_rows = shape[0] if shape else 1
    row_elems = math.prod(shape[1:]) if shape else 1
    step = max(1, block_bytes // (row_elems * 4))
    for r0 in range(0, n_rows, step):
        yield _Block(name, dtype, r0, min(n_rows, r0 + step), row_elems, lo + r0 * row_elems * dtype.itemsize)


_buffers = threading.local()


def _scratch(attr: str, nbytes: int) -> torch.Tensor:
    """A per-thread byte buffer of at least ``nbytes``, reused across blocks."""
    buf = getattr(_buffers, attr, None)
    if buf is None or buf.numel() < nbytes:
        buf = torch.empty(max(nbytes, BLOCK_BYTES), dtype=torch.uint8)
        setattr(_buffers, attr, buf)
    return buf[:nbytes]


class _Source:
    """The input shard, read through a private memory map where the platform can (no copy into a user
    buffer; copy-on-write and never written, so nothing reaches the file), with each block's pages released
    after use so resident memory stays at a few blocks; ``pread`` into a per-thread buffer elsewhere."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.map, self.view = fd, None, None
        if size and hasattr(mmap, "MADV_DONTNEED"):
            try:
                self.map = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError:  # a file system that cannot map files: read with pread instead
                return
            self.view = torch.frombuffer(self.map, dtype=torch.uint8)

    def read(self, offset: int, nbytes: int, itemsize: int) -> torch.Tensor:
        if self.view is not None and offset % itemsize == 0:  # a dtype view needs an aligned start
            return self.view[offset:offset + nbytes]
        raw = _scratch("raw", nbytes)
        _pread_all(self.fd, memoryview(raw.numpy()), offset)
        return raw

    def release(self, offset: int, nbytes: int) -> None:
        if self.map is not None:
            start = offset - offset % mmap.PAGESIZE
            self.map.madvise(mmap.MADV_DONTNEED, start, offset + nbytes - start)

    def close(self) -> None:
        if self.map is not None:
            self.view = None
            try:
                self.map.close()
            except BufferError:  # a block still holds a view (an error's traceback): unmapped when it is freed
                pass


def _rewrite_block(source: _Source, fd_out: int, block: _Block, update: Update) -> None:
    rows = block.row1 - block.row0
    nbytes = block.count * block.dtype.itemsize
    raw = source.read(block.offset, nbytes, block.dtype.itemsize)
    acc = _scratch("acc", block.count * 4).view(torch.float32).view(rows, block.row_elems)
    acc.copy_(raw.view(block.dtype).view(rows, block.row_elems))  # widen to fp32
    del raw
    source.release(block.offset, nbytes)
    update(block.name, block.row0, block.row1, acc)
    staging = _scratch("staging", block.count * block.dtype.itemsize)
    out = staging.view(block.dtype)
    out.copy_(acc.view(-1))  # cast back to the tensor's dtype
    if block.dtype == torch.float16 and not torch.isfinite(out).all():  # fp16's range is narrow; bf16 has fp32's
        raise TransferError(f"{block.name}: the merged weights are NaN or inf in float16")
    _pwrite_all(fd_out, memoryview(staging.numpy()), block.offset)


def _run_jobs(jobs: list[Callable[[], None]], workers: int) -> None:
    """Run ``jobs`` on ``workers`` threads, the caller being one of them. The first error, or an interrupt
    in the caller, stops the others after their current job (before the caller closes the files they
    write), and is raised here."""
    queue, lock, stop = iter(jobs), threading.Lock(), threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        while not stop.is_set():
            with lock:
                job = next(queue, None)
            if job is None:
                return
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=work, name=f"shard-rewrite-{i}", daemon=True) for i in range(workers - 1)]
    for thread in threads:
        thread.start()
    try:
        work()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _pread_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.preadv(fd, [data], offset) if hasattr(os, "preadv") else _pread_into(fd, data, offset)
        if n <= 0:
            raise OSError(f"unexpected end of file at byte {offset}")
        data, offset = data[n:], offset + n


def _pread_into(fd: int, data: memoryview, offset: int) -> int:
    chunk = os.pread(fd, len(data), offset)
    data[:len(chunk)] = chunk
    return len(chunk)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _copy_range(fd_in: int, fd_out: int, lo: int, hi: int) -> None:
    """Copy bytes [lo, hi) at the same offsets, in the kernel when the platform can."""
    while lo < hi:
        if hasattr(os, "copy_file_range"):
            try:
                n = os.copy_file_range(fd_in, fd_out, hi - lo, lo, lo)
            except OSError:  # e.g. EXDEV on old kernels, ENOSYS: fall back to a user-space copy
                n = os.pwrite(fd_out, os.pread(fd_in, min(hi - lo, 8 << 20), lo), lo)
        else:
            n = os.pwrite(fd_out, os.pread(fd_in, min(hi - lo, 8 << 20), lo), lo)
        if n <= 0:
            raise OSError(f"copy stalled at byte {lo}")
        lo += n


@contextmanager
def _torch_threads(n: int):
    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
