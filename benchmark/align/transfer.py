"""Stage II of AR-MAP: add a scaled AR task vector to a DLLM of the same architecture, shard by shard.

References:
    - AR-MAP, arXiv 2602.02178: merged DLLM = W_DLLM + gamma * tau, tau = W_AR_aligned - W_AR_base;
      for a LoRA teacher, tau = (B @ A) * alpha / r per adapted linear weight, computed in fp32.

Command line (``python -m benchmark transfer --help``)::

    python -m benchmark transfer --student DREAM_DIR --lora ADAPTER_DIR --gamma 6 --out MERGED_DIR
    python -m benchmark transfer --student DIR --aligned AR_DPO_DIR --base AR_DIR --gamma 1 --out DIR

The merge is strict: before anything is written, every delta must map (through a key profile) onto a
student tensor of the same shape, and the configs must agree on layers, heads, hidden size and
vocabulary; every mismatch is reported in one error (``allow_partial`` merges what matches and lists
the rest in the manifest). Deltas are computed one tensor at a time, so memory holds one student shard
plus the delta being added. Output goes to a temporary folder that is renamed into place.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm.auto import tqdm

from benchmark.align import shard_rewrite
from benchmark.align.checkpoint import PICKLE_SUFFIXES, Checkpoint, TransferError, fingerprint
from benchmark.core.errors import BenchmarkError
from benchmark.core.provenance import git_revision, hardware, package_versions
from benchmark.core.registry import Registry
from benchmark.core.store import refuse_overlap

__all__ = ["Checkpoint", "Gammas", "TaskVector", "TransferError", "full_task_vector", "lora_task_vector",
           "merge_task_vector"]

log = logging.getLogger(__name__)
PEFT_PREFIX = "base_model.model."
CONFIG_FIELDS = ("num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_size",
                 "intermediate_size")
# Compared only when the task vector touches a vocabulary-sized tensor: a student that added a mask
# token (a resized vocabulary) still takes a delta on the attention and MLP weights.
VOCAB_FIELDS = ("vocab_size",)
VOCAB_TENSORS = ("embed_tokens", "lm_head", "wte", "word_embeddings")


# ------------------------------------------------------------------------------------------ key profiles
KEY_PROFILES: Registry = Registry("key profile")
"""Teacher tensor name -> student tensor name. Add one with ``KEY_PROFILES.register("name", fn)``."""


def _identity(name: str) -> str:
    return name


# Dream-v0 keeps Qwen2.5's module names and SDAR keeps Qwen3's (checked against their index files), so
# both are the identity after the peft prefix is stripped; they are named profiles so that a renamed
# release needs one new function, not a code change here.
KEY_PROFILES.register("identity", _identity)
KEY_PROFILES.register("qwen2.5-dream", _identity)
KEY_PROFILES.register("qwen3-sdar", _identity)
KEY_PROFILES.register("tiny", _identity)


def peft_to_base_name(name: str) -> str:
    """``base_model.model.<name>.lora_A[.default].weight`` -> ``<name>.weight``."""
    name = name.removeprefix(PEFT_PREFIX)
    return re.sub(r"\.lora_[AB](\.[^.]+)?\.weight$", ".weight", name)


# ------------------------------------------------------------------------------------------ task vectors
@dataclass
class TaskVector:
    """fp32 deltas keyed by student tensor name, computed on demand by rows so a merge never holds more
    than a slice of one; ``shapes`` is known up front."""

    shapes: dict[str, tuple[int, ...]]
    compute_rows: Callable[[str, int, int], torch.Tensor]
    source: dict = field(default_factory=dict)
    # Optional fast path: add alpha * rows in place into ``out`` (LoRA: one fused addmm, no delta buffer).
    add_rows_into: Callable[[str, int, int, torch.Tensor, float], None] | None = None
    norm_of: Callable[[str], float] | None = None  # optional closed form of ||delta||_F

    def add_rows(self, name: str, start: int, stop: int, out: torch.Tensor, alpha: float) -> None:
        """out += alpha * delta[start:stop] (fp32, [rows, cols])."""
        if self.add_rows_into is not None:  # its factors were checked for NaN/inf when loaded
            self.add_rows_into(name, start, stop, out, alpha)
        else:
            out.add_(self.rows(name, start, stop).reshape(out.shape), alpha=alpha)

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        delta = self.compute_rows(name, start, stop)
        if not torch.isfinite(delta).all():
            raise TransferError(f"{self.source.get('path', 'task vector')}: the delta of {name} contains NaN or inf")
        return delta

    def __getitem__(self, name: str) -> torch.Tensor:
        shape = self.shapes[name]
        return self.rows(name, 0, shape[0] if shape else 1).reshape(shape)


def lora_task_vector(adapter_dir: str | Path, profile: str = "identity") -> TaskVector:
    """tau per student weight: (B @ A) * scale in fp32, scale = alpha/r (alpha/sqrt(r) with rsLoRA)."""
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    cfg_file, weights = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_file.is_file():
        raise TransferError(f"{adapter_dir}: no adapter_config.json (not a peft LoRA adapter folder)")
    if not weights.is_file():
        pickled = adapter_dir / "adapter_model.bin"
        extra = f" ({pickled.name} is a pickle; convert it to safetensors)" if pickled.is_file() else ""
        raise TransferError(f"{adapter_dir}: no adapter_model.safetensors{extra}")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as exc:
        raise TransferError(f"{cfg_file}: invalid JSON ({exc.msg})") from exc
    if cfg.get("peft_type", "LORA") != "LORA":
        raise TransferError(f"{cfg_file}: field 'peft_type' is {cfg.get('peft_type')!r}; only LORA is supported")
    for key in ("r", "lora_alpha"):
        if not isinstance(cfg.get(key), int | float) or isinstance(cfg.get(key), bool):
            raise TransferError(f"{cfg_file}: field {key!r} is missing or not a number")
        if not math.isfinite(cfg[key]) or cfg[key] <= 0:
            raise TransferError(f"{cfg_file}: field {key!r} must be a positive finite number, got {cfg[key]!r}")
    # What peft merges otherwise than B @ A * scale added to a weight: refused rather than merged wrong.
    if cfg.get("fan_in_fan_out"):
        raise TransferError(f"{cfg_file}: field 'fan_in_fan_out' is true (Conv1D weights stored transposed, GPT-2 "
                            "style); this merge adds B @ A to [out, in] weights and does not support it")
    if cfg.get("modules_to_save"):
        raise TransferError(f"{cfg_file}: field 'modules_to_save' is {cfg['modules_to_save']!r}: the adapter carries "
                            "whole trained modules, which replace the base's rather than add a delta; not supported")
    if cfg.get("use_dora"):
        raise TransferError(f"{cfg_file}: field 'use_dora' is true; a DoRA adapter rescales each weight's column "
                            "norms, which is not a task vector (B @ A) and is not supported")
    if cfg.get("lora_bias"):
        raise TransferError(f"{cfg_file}: field 'lora_bias' is true; adapters with a trained bias are not supported")
    r, alpha = cfg["r"], cfg["lora_alpha"]
    rank_pattern, alpha_pattern = cfg.get("rank_pattern") or {}, cfg.get("alpha_pattern") or {}
    for key, pattern in (("rank_pattern", rank_pattern), ("alpha_pattern", alpha_pattern)):
        if not isinstance(pattern, dict) or not all(isinstance(v, int | float) for v in pattern.values()):
            raise TransferError(f"{cfg_file}: field {key!r} must map module patterns to numbers")
    rslora = bool(cfg.get("use_rslora"))
    tensors = _load_safetensors(weights, load_file)
    embedding = sorted(n for n in tensors if "lora_embedding_" in n)
    if embedding:
        raise TransferError(f"{weights}: LoRA on embeddings ({embedding[0]}, ...): peft merges lora_embedding_A/B "
                            "transposed; not supported by this merge")
    saved = sorted(n for n in tensors if ".modules_to_save." in n)
    if saved:
        raise TransferError(f"{weights}: holds whole trained modules ({saved[0]}, ...; modules_to_save), which "
                            "replace the base's rather than add a delta; not supported")
    if any(".lora_magnitude_vector" in n for n in tensors):
        raise TransferError(f"{weights}: holds DoRA magnitude vectors (lora_magnitude_vector); DoRA is not supported")
    bad = sorted(n for n, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all())
    if bad:
        raise TransferError(f"{weights}: NaN or inf in {bad}: the task vector would be NaN or inf")
    to_student = KEY_PROFILES.get(profile)
    pairs: dict[str, tuple[str, str]] = {}
    scales: dict[str, float] = {}
    problems = []
    for name in tensors:
        if ".lora_A." not in name:
            continue
        b_name = name.replace(".lora_A.", ".lora_B.")
        if b_name not in tensors:
            problems.append(f"{name} has no matching {b_name}")
            continue
        module = name.removeprefix(PEFT_PREFIX).split(".lora_A")[0]
        # peft's own rule (LoraModel._create_and_replace): the first pattern key that matches the module
        # path as a whole dotted suffix sets this module's rank and alpha.
        mod_r = rank_pattern[_pattern_key(rank_pattern, module)] if _pattern_key(rank_pattern, module) else r
        mod_alpha = alpha_pattern[_pattern_key(alpha_pattern, module)] if _pattern_key(alpha_pattern, module) \
            else alpha
        rank = tensors[name].shape[0]
        if mod_r <= 0:
            problems.append(f"{module}: r is {mod_r} (must be positive)")
            continue
        if rank != mod_r or tensors[b_name].shape[-1] != rank:
            problems.append(f"{module}: the config says r={mod_r} but lora_A/lora_B have rank "
                            f"{rank}/{tensors[b_name].shape[-1]} (peft would refuse to load this adapter)")
            continue
        pairs[to_student(peft_to_base_name(name))] = (name, b_name)
        scales[to_student(peft_to_base_name(name))] = mod_alpha / math.sqrt(mod_r) if rslora else mod_alpha / mod_r
    if problems:
        raise TransferError(f"{cfg_file}: " + "; ".join(problems))
    if not pairs:
        raise TransferError(f"{weights}: no lora_A/lora_B tensors found")
    scale = r and (alpha / math.sqrt(r) if rslora else alpha / r)
    shapes = {k: (tensors[b].shape[0], tensors[a].shape[1]) for k, (a, b) in pairs.items()}

    factors = {k: (tensors[b].float() * scales[k], tensors[a].float()) for k, (a, b) in pairs.items()}

    def compute(name: str, start: int, stop: int) -> torch.Tensor:
        b_scaled, a = factors[name]
        return b_scaled[start:stop] @ a  # [rows, r] @ [r, in] -> [rows, in]

    def add_into(name: str, start: int, stop: int, out: torch.Tensor, g: float) -> None:
        b_scaled, a = factors[name]
        out.addmm_(b_scaled[start:stop], a, alpha=g)  # out[rows, in] += g * B[rows] @ A, fused

    def norm(name: str) -> float:
        b_scaled, a = factors[name]
        return math.sqrt(max(0.0, float(((b_scaled.T @ b_scaled) * (a @ a.T)).sum())))  # ||BA||_F via r x r

    per_module = sorted({v for v in scales.values()})
    return TaskVector(shapes, compute, {"kind": "lora", "path": str(adapter_dir), "r": r, "alpha": alpha,
                                        "scale": scale if len(per_module) == 1 else per_module,
                                        "rank_pattern": rank_pattern, "alpha_pattern": alpha_pattern,
                                        "use_rslora": rslora, "fingerprint": fingerprint(weights)},
                      add_rows_into=add_into, norm_of=norm)


def _pattern_key(patterns: dict, module: str) -> str | None:
    """peft's ``get_pattern_key``: the first key matching ``module`` as a whole dotted suffix, else None."""
    for key in patterns:
        if re.match(rf"(.*\.)?({key})$", module):
            return key
    return None


def sparsified_task_vector(delta: TaskVector, method: str, density: float, seed: int = 0) -> TaskVector:
    """tau with most of each tensor's entries dropped, by mergekit's ``sparsify`` on the whole tensor:
    ``"magnitude"``, TIES' trim step (keep the ``density`` share of entries largest in magnitude; Yadav et al.,
    arXiv 2306.01708), or ``"random"``, DARE (keep each entry with probability ``density`` and rescale the
    tensor to its L1 norm, mergekit's form of DARE's 1/(1-p); Yu et al., arXiv 2311.03099). With one task
    vector TIES' sign election keeps every surviving entry. One whole tensor is held at a time."""
    from mergekit.sparsify import RescaleNorm, SparsificationMethod, sparsify

    if method not in ("magnitude", "random"):
        raise TransferError(f"sparsification method must be 'magnitude' (TIES) or 'random' (DARE), got {method!r}")
    if not 0 < density <= 1:
        raise TransferError(f"density must be in (0, 1], got {density}")
    held: dict[str, torch.Tensor] = {}  # the last few whole tensors; the merge's threads read rows of several
    lock = threading.Lock()

    def whole(name: str) -> torch.Tensor:
        with lock:
            if name not in held:
                tensor = delta[name]
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
                    held[name] = sparsify(tensor, density, SparsificationMethod(method),
                                          rescale_norm=RescaleNorm.l1 if method == "random" else None)
                while len(held) > 8:
                    held.pop(next(iter(held)))
            return held[name]

    def compute(name: str, start: int, stop: int) -> torch.Tensor:
        full = whole(name)
        return full.reshape(full.shape[0] if full.dim() else 1, -1)[start:stop]

    return TaskVector(dict(delta.shapes), compute, {**delta.source, "sparsified": {
        "method": method, "density": density, "seed": seed, "by": "mergekit.sparsify"}})


def full_task_vector(aligned_dir: str | Path, base_dir: str | Path, profile: str = "identity") -> TaskVector:
    """tau = aligned - base for every tensor that differs in name-space; read one tensor at a time."""
    from safetensors import safe_open

    aligned, base = Checkpoint(aligned_dir), Checkpoint(base_dir)
    problems = [f"{n}: in {aligned.path} but not in {base.path}" for n in aligned.names if n not in base.names]
    problems += [f"{n}: shape {aligned.shapes[n]} in {aligned.path} but {base.shapes[n]} in {base.path}"
                 for n in aligned.names if n in base.names and aligned.shapes[n] != base.shapes[n]]
    if problems:
        raise TransferError(f"aligned and base checkpoints differ: {len(problems)} problem(s): " + "; ".join(problems))
    to_student = KEY_PROFILES.get(profile)
    teacher_of = {to_student(n): n for n in aligned.names}

    def compute(name: str, start: int, stop: int) -> torch.Tensor:
        t = teacher_of[name]
        with safe_open(aligned.file_of(t), "pt") as fa, safe_open(base.file_of(t), "pt") as fb:
            if not aligned.shapes[t]:
                return (fa.get_tensor(t).float() - fb.get_tensor(t).float()).reshape(1)
            return fa.get_slice(t)[start:stop].float() - fb.get_slice(t)[start:stop].float()

    return TaskVector({s: aligned.shapes[t] for s, t in teacher_of.items()}, compute,
                      {"kind": "full", "aligned": str(aligned.path), "base": str(base.path),
                       "fingerprint": {"aligned": aligned.fingerprint(), "base": base.fingerprint()}})


def _load_safetensors(path: Path, load_file):
    try:
        return load_file(path)
    except Exception as exc:
        raise TransferError(f"{path}: unreadable safetensors file ({exc})") from exc


# ------------------------------------------------------------------------------------------ merge
def _zero_delta_warning(changed: dict, delta: TaskVector) -> list[str]:
    """A task vector that is zero everywhere (e.g. ``--aligned X --base X``) merges to the student itself."""
    if changed and all(info["delta_norm"] == 0 for info in changed.values()):
        text = (f"the task vector is zero in all {len(changed)} merged tensors (source {delta.source}); "
                "the output equals the student. Were --aligned and --base the same checkpoint?")
        log.warning(text)
        return [text]
    return []


@dataclass(frozen=True)
class Gammas:
    """Scale per tensor: ``attn`` for self-attention weights, ``mlp`` for MLP weights, else ``default``."""

    default: float
    attn: float | None = None
    mlp: float | None = None

    def of(self, name: str) -> float:
        if self.attn is not None and ".self_attn." in name:
            return self.attn
        if self.mlp is not None and ".mlp." in name:
            return self.mlp
        return self.default

    def __post_init__(self) -> None:
        for g in (self.default, self.attn, self.mlp):
            if g is not None and (not math.isfinite(g) or abs(g) > 1e4):
                raise TransferError(f"gamma must be a finite number of magnitude at most 1e4, got {g}")


def check_compatible(student: Checkpoint, delta: TaskVector, teacher_config: dict | None = None,
                     allow_partial: bool = False, notes: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(names to merge, names skipped). Raises one error listing every mismatch unless ``allow_partial``.

    Architecture fields must agree; ``vocab_size`` only when the delta touches an embedding or the LM head.
    Differences that do not matter to this delta are appended to ``notes`` (recorded in the manifest).
    """
    problems, skipped, merge = [], [], []
    if teacher_config:
        student_config = student.config()
        touches_vocab = any(part in name for name in delta.shapes for part in VOCAB_TENSORS)
        for key in CONFIG_FIELDS + VOCAB_FIELDS:
            if key in teacher_config and key in student_config and teacher_config[key] != student_config[key]:
                text = f"config {key}: teacher {teacher_config[key]} != student {student_config[key]}"
                if key in VOCAB_FIELDS and not touches_vocab:
                    if notes is not None:
                        notes.append(text + " (the task vector touches no vocabulary-sized tensor)")
                else:
                    problems.append(text)
    for name in sorted(delta.shapes):
        if name not in student.shapes:
            skipped.append(f"{name}: not in the student")
        elif tuple(student.shapes[name]) != tuple(delta.shapes[name]):
            skipped.append(f"{name}: student shape {student.shapes[name]} != delta shape {delta.shapes[name]}")
        else:
            merge.append(name)
    if problems or (skipped and not allow_partial):
        found = problems + skipped
        raise TransferError(f"cannot merge into {student.path}: {len(found)} problem(s): " + "; ".join(found))
    if not merge:
        raise TransferError(f"cannot merge into {student.path}: no delta tensor matches the student")
    return merge, skipped


def rewrite_shard(src: Path, dst: Path, gammas: Gammas, delta: TaskVector, names: set[str],
                  workers: int | None = None) -> dict[str, dict]:
    """Stream ``src`` to ``dst`` with ``w + gamma * delta`` (fp32, cast back) for ``names``; return what changed.

    Without a closed-form norm (full task vectors) each delta's norm is summed from the rows the merge
    reads anyway, so no tensor is read twice."""
    squares: dict[str, float] = {}
    lock = threading.Lock()  # blocks of one tensor may be added on several worker threads

    def add_delta(name: str, r0: int, r1: int, block: torch.Tensor) -> None:
        if delta.norm_of is not None:
            delta.add_rows(name, r0, r1, block, gammas.of(name))
            return
        rows = delta.rows(name, r0, r1).reshape(block.shape)
        block.add_(rows, alpha=gammas.of(name))
        square = float(rows.square().sum())
        with lock:
            squares[name] = squares.get(name, 0.0) + square

    updated = shard_rewrite.rewrite_shard(src, dst, names, add_delta, workers=workers)
    return {name: {"gamma": gammas.of(name),
                   "delta_norm": delta.norm_of(name) if delta.norm_of else math.sqrt(squares[name])}
            for name in updated}


def merge_task_vector(student_dir: str | Path, delta: TaskVector, gamma: float | Gammas, out_dir: str | Path,
                      overwrite: bool = False, allow_partial: bool = False, teacher_config: dict | None = None,
                      progress: bool = False, workers: int | None = None) -> dict:
    """Write ``student + gamma * delta`` to ``out_dir`` (fp32 arithmetic, cast back); return the manifest.

    ``workers``: threads rewriting a shard (default: one per core, at most 8)."""
    started, start = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    workers = workers or shard_rewrite.default_workers()
    gammas = gamma if isinstance(gamma, Gammas) else Gammas(float(gamma))
    student_dir, out_dir = Path(student_dir), Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise TransferError(f"{out_dir} exists; pass overwrite=True (--overwrite) to replace it")
    try:  # the student itself, a folder inside it, or one holding it: the inputs are never modified
        refuse_overlap(out_dir, "--out", {"--student": student_dir})
    except BenchmarkError as exc:
        raise TransferError(str(exc)) from exc
    student = Checkpoint(student_dir)
    notes: list[str] = []
    merge, skipped = check_compatible(student, delta, teacher_config, allow_partial, notes)
    to_merge = set(merge)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    changed = {}
    try:
        for item in student_dir.iterdir():  # config, tokenizer, generation config, index, ...
            if item.is_file() and item.name not in student.shards and item.suffix not in PICKLE_SUFFIXES:
                shutil.copy2(item, tmp / item.name)
        for shard, names in tqdm(student.shards.items(), desc="merge shards", disable=not progress):
            if not to_merge.intersection(names):
                shutil.copyfile(student_dir / shard, tmp / shard)  # untouched shard: a byte copy
                continue
            changed.update(rewrite_shard(student_dir / shard, tmp / shard, gammas, delta, to_merge, workers))
        manifest = {
            "student": {"path": str(student_dir), "fingerprint": student.fingerprint()},
            "task_vector": delta.source, "gamma": {"default": gammas.default, "attn": gammas.attn,
                                                   "mlp": gammas.mlp},
            "changed": changed, "skipped": skipped, "unchanged": len(student.names) - len(changed),
            "config_differences": notes, "warnings": _zero_delta_warning(changed, delta),
            "run": {"started_utc": started, "merge_wall_s": round(time.perf_counter() - start, 3),
                    "workers": workers, "shard_bytes": sum((tmp / shard).stat().st_size for shard in student.shards),
                    "versions": package_versions(), "git_revision": git_revision(), "hardware": hardware()},
        }
        (tmp / "transfer_manifest.json").write_text(json.dumps(manifest, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def check_pair(ar_dir: str | Path, dllm_dir: str | Path, profile: str = "identity") -> list[str]:
    """Can a task vector of ``ar_dir`` be added to ``dllm_dir``? Checked when a family is prepared, before any
    training: every architecture field agrees and every AR tensor outside the vocabulary-sized ones maps (by
    ``profile``) onto a DLLM tensor of the same shape. One error lists every mismatch; returns notes (e.g.
    a vocabulary grown by a mask token, which a task vector on attention and MLP weights does not touch)."""
    ar, dllm = Checkpoint(ar_dir), Checkpoint(dllm_dir)
    mapped = KEY_PROFILES.get(profile)
    ar_cfg, dllm_cfg = ar.config(), dllm.config()
    problems, notes = [], []
    for key in CONFIG_FIELDS + VOCAB_FIELDS:
        if key in ar_cfg and key in dllm_cfg and ar_cfg[key] != dllm_cfg[key]:
            text = f"config {key}: AR {ar_cfg[key]} != DLLM {dllm_cfg[key]}"
            (notes if key in VOCAB_FIELDS else problems).append(text)
    for name, shape in sorted(ar.shapes.items()):
        if any(part in name for part in VOCAB_TENSORS):
            continue
        target = mapped(name)
        if target not in dllm.shapes:
            problems.append(f"{name}: no tensor {target} in the DLLM")
        elif tuple(dllm.shapes[target]) != tuple(shape):
            problems.append(f"{name}: AR shape {tuple(shape)} != DLLM shape {tuple(dllm.shapes[target])}")
    if problems:
        raise TransferError(f"the family's AR model {ar.path} and DLLM {dllm.path} do not share an architecture, "
                            f"so AR-MAP cannot map one onto the other: {len(problems)} problem(s): "
                            + "; ".join(problems[:20]) + (" ..." if len(problems) > 20 else ""))
    return notes
