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
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are as readable as any file the user writes
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_root() -> Path:
    """The project's cache: ``$DLLM_BENCH_CACHE``, else ``$XDG_CACHE_HOME/dllm-align-bench``, else
    ``~/.cache/dllm-align-bench``. A path that exists as a file is an error naming the variable."""
    if os.environ.get("DLLM_BENCH_CACHE"):
        root, source = Path(os.environ["DLLM_BENCH_CACHE"]), "$DLLM_BENCH_CACHE"
    else:
        base = os.environ.get("XDG_CACHE_HOME")
        root = Path(base or Path.home() / ".cache") / "dllm-align-bench"
        source = "$XDG_CACHE_HOME" if base else "the cache folder"
    if root.exists() and not root.is_dir():
        raise BenchmarkError(f"{source} {root}: is a file, not a folder")
    return root


# ------------------------------------------------------------------ work folders and locks
OWNER_FILE = ".owner"


def make_work_dir(parent: Path, prefix: str) -> Path:
    """A temporary folder under ``parent`` that records its owner (host and pid), so that a later run can
    tell a folder left by a killed process (removed) from one in use by a live process (kept)."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (tmp / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return tmp


def _owner_alive(folder: Path) -> bool:
    try:
        host, pid = (folder / OWNER_FILE).read_text().split()
        pid = int(pid)
    except (OSError, ValueError):
        return False  # no owner recorded (an older version) or unreadable: treat as left behind
    if host != socket.gethostname():
        return True  # another machine's process on shared storage: never ours to remove
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_work_dirs(parent: Path, pattern: str) -> list[Path]:
    """Remove the folders matching ``pattern`` whose owner process is gone; return them."""
    removed = []
    for folder in sorted(Path(parent).glob(pattern)) if Path(parent).is_dir() else []:
        if folder.is_dir() and not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class FolderLock:
    """An exclusive ``flock`` on ``<folder>/.lock`` for as long as the context lasts; a second process
    gets a clear error at once instead of racing on the same files."""

    def __init__(self, folder: Path, what: str) -> None:
        self.path, self.what = Path(folder) / ".lock", what

    def __enter__(self) -> FolderLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise BenchmarkError(f"{self.path.parent} is in use by {holder} ({self.what}); wait for it to "
                                 "finish or use another --out") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self._fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


MIN_FREE_BYTES = 64 << 20  # refuse to start a run that could not even write its records


def _writable_ancestor(path: Path, flag: str) -> Path:
    """The nearest existing folder at or above ``path``; an error if it cannot take new files."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise BenchmarkError(f"{flag} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BenchmarkError(f"{flag} {path}: {probe} is not writable")
    free = shutil.disk_usage(probe).free
    if free < MIN_FREE_BYTES:
        raise BenchmarkError(f"{flag} {path}: only {free >> 20} MiB free on the disk of {probe}")
    return probe


def check_output_dir(path: str | Path, flag: str) -> Path:
    """Fail before any work if ``path`` cannot become (or is not) a writable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BenchmarkError(f"{flag} {path}: is a file, not a folder")
    _writable_ancestor(path, flag)
    return path


def check_output_file(path: str | Path, flag: str) -> Path:
    """Fail before any work if ``path`` cannot be written as a file (it is a folder, or its folder cannot be made)."""
    path = Path(path)
    if path.is_dir():
        raise BenchmarkError(f"{flag} {path}: is a folder; name the file to write")
    _writable_ancestor(path.parent, flag)
    return path


def claim_suite_folder(root: Path, suite: str, source: str) -> None:
    """A suite's result folder records where the suite came from (``suite.json``): another suite of the same
    name (a user's file named like a built-in one) is refused instead of replacing its cells."""
    marker = Path(root) / "suite.json"
    if marker.is_file():
        try:
            held = json.loads(marker.read_text()).get("source")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            held = None
        if held is not None and held != source:
            raise BenchmarkError(f"{root} holds the cells of suite {suite!r} from {held}; this suite {suite!r} comes "
                                 f"from {source}: rename it ([suite] name) or use another --out")
        if held is not None:
            return
    Path(root).mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps({"suite": suite, "source": source}, indent=2))


def refuse_overlap(out: str | Path, out_flag: str, inputs: dict[str, str | Path | None]) -> None:
    """An output that is, contains or sits inside one of the command's inputs is refused before any work:
    writing it (or clearing it to write) would destroy or pollute that input."""
    target = Path(out).resolve()
    for flag, path in inputs.items():
        if path is None:
            continue
        source = Path(path).resolve()
        if target == source or source.is_relative_to(target) or target.is_relative_to(source):
            how = "is" if target == source else "contains" if source.is_relative_to(target) else "is inside"
            raise BenchmarkError(f"{out_flag} {out} {how} the input {flag} {path}: write the output elsewhere")


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


RECORD_FIELDS = ("cell", "metrics", "main_metric", "cost")


def safe_name(name: str, what: str) -> str:
    """The one rule for a name that becomes a path component (a suite, family, method, task or training set):
    a non-empty single component, so nothing is written outside the result folder."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0") \
            or name != name.strip() or name.startswith("."):
        raise BenchmarkError(f"{what} {name!r} cannot name a folder: use a non-empty name without '/', '\\', a "
                             "leading '.' or surrounding spaces")
    return name


@dataclass(frozen=True)
class CellKey:
    suite: str
    family: str
    method: str
    task: str
    seed: int

    def __post_init__(self) -> None:
        for what in ("suite", "family", "method", "task"):
            safe_name(getattr(self, what), what)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise BenchmarkError(f"seed {self.seed!r} must be a non-negative integer")

    def label(self) -> str:
        return f"{self.family}/{self.method}/{self.task}/seed{self.seed}"


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def record_path(self, key: CellKey) -> Path:
        path = self.root / "cells" / key.family / key.method / key.task / f"seed{key.seed}.json"
        if not path.resolve().is_relative_to(self.root.resolve()):  # a link inside the folder pointing out
            raise BenchmarkError(f"{path} resolves outside the result folder {self.root}: refusing to write there")
        return path

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
        """Stored with this config hash, with a readable samples file (a truncated one reruns the cell)."""
        record = self.load(key)
        if not (record and record.get("config_hash") == cfg_hash and self.samples_path(key).is_file()):
            return False
        try:
            self.samples(key)
        except BenchmarkError as exc:
            log.warning("%s; the cell will be rerun", exc)
            return False
        return True

    def write(self, key: CellKey, record: dict, samples: list[dict]) -> Path:
        atomic_write_text(self.samples_path(key), "".join(dumps(s) + "\n" for s in samples))
        path = self.record_path(key)
        atomic_write_text(path, dumps(record, indent=2, sort_keys=True))
        return path

    def samples(self, key: CellKey) -> list[dict]:
        path = self.samples_path(key)
        out = []
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"{path}:{lineno}: unreadable sample ({exc.msg}; truncated file?)") from exc
        return out

    def records(self) -> Iterator[tuple[Path, dict]]:
        """Every complete record under this store, in a stable order; unreadable or incomplete files are
        skipped with a warning naming the file (and counted in ``self.skipped``)."""
        self.skipped: list[str] = []
        for path in sorted((self.root / "cells").glob("*/*/*/seed*.json")):
            try:
                record = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self.skipped.append(f"{path}: unreadable ({exc})")
                log.warning("skipping unreadable result file %s (%s)", path, exc)
                continue
            missing = [f for f in RECORD_FIELDS if not isinstance(record, dict) or f not in record]
            if not missing and record["main_metric"] not in record["metrics"]:
                missing = [f"metrics.{record['main_metric']}"]
            if not missing:
                value = record["metrics"][record["main_metric"]]
                value = value.get("value") if isinstance(value, dict) else None
                align = record["cost"].get("align") if isinstance(record["cost"], dict) else None
                if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                    missing = [f"metrics.{record['main_metric']}.value (not a number: {value!r})"]
                elif not isinstance(align, dict) or not all(
                        isinstance(align.get(k), int | float) for k in ("wall_s", "forward_passes")):
                    missing = ["cost.align.wall_s / forward_passes"]
            if missing:
                self.skipped.append(f"{path}: missing or malformed field(s) {', '.join(missing)}")
                log.warning("skipping result file %s: missing or malformed field(s) %s", path, ", ".join(missing))
                continue
            yield path, record


def _wait_for_rank0(meta_file: Path, timeout_s: float = 3600) -> None:
    """A non-zero rank waits until rank 0 has renamed the shared work into place."""
    import time

    start = time.monotonic()
    while not meta_file.is_file():
        if time.monotonic() - start > timeout_s:
            raise BenchmarkError(f"{meta_file}: rank 0 did not finish the shared work within {timeout_s:.0f} s")
        time.sleep(0.2)


class SharedArtifacts:
    """Work that several cells reuse, built once per key into a temporary folder and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def get_or_build(self, name: str, key: dict, build: Callable[[Path], dict]) -> tuple[Path, dict]:
        """Return (folder, meta). ``build(tmp)`` fills ``tmp`` and returns meta (JSON-able).

        Processes that want the same work wait on a lock for the one building it (parallel executors never
        build it twice). Under ``accelerate launch`` every rank builds (training is collective) and rank 0
        alone keeps the result; the others wait for it."""
        import fcntl

        final = self.root / f"{name}-{config_hash(key)}"
        meta_file = final / "meta.json"
        if meta_file.is_file():
            return final, json.loads(meta_file.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        with open(self.root / f".lock-{final.name}", "a+") as lock:  # not matched by the work folders' glob
            if rank == 0:
                fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process builds the same work
            if meta_file.is_file():  # built while this process waited
                return final, json.loads(meta_file.read_text())
            if rank == 0:  # only rank 0 cleans: another rank must never touch a folder rank 0 is filling
                if final.exists():  # a folder without meta.json is a leftover of an interrupted build
                    shutil.rmtree(final)
                remove_stale_work_dirs(self.root, f".{name}-*")
            tmp = make_work_dir(self.root, f".{name}-")
            try:
                meta = {"key": key, **build(tmp)}
                (tmp / OWNER_FILE).unlink(missing_ok=True)
                if rank != 0:
                    shutil.rmtree(tmp)
                    _wait_for_rank0(meta_file)
                    return final, {**json.loads(meta_file.read_text()), "built_now": True}
                (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
                tmp.rename(final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final, {**meta, "built_now": True}
