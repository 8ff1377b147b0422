"""Stage II of AR-MAP: add a scaled AR task vector to a DLLM of the same architecture.

References:
    - AR-MAP, arXiv 2602.02178: merged DLLM = W_DLLM + gamma * tau, tau = W_AR_aligned - W_AR_base;
      for a LoRA teacher, tau = (B @ A) * alpha / r per adapted linear weight, computed in fp32.

The merge is strict: every delta must land on a student tensor of the same name and shape, and every
mismatch is reported in one error before anything is written. It works shard by shard (one student
shard in memory at a time), writes into a temporary folder and renames it into place.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import torch

PEFT_PREFIX = "base_model.model."
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


class TransferError(ValueError):
    """Incompatible or malformed checkpoints; the message lists every problem found."""


def lora_task_vector(adapter_dir: str | Path) -> dict[str, torch.Tensor]:
    """tau per student weight name: (B @ A) * scale in fp32, scale = alpha/r (alpha/sqrt(r) with rsLoRA)."""
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    cfg_file, weights = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_file.is_file():
        raise TransferError(f"{adapter_dir}: no adapter_config.json (not a peft LoRA adapter folder)")
    if not weights.is_file():
        raise TransferError(f"{adapter_dir}: no adapter_model.safetensors")
    cfg = json.loads(cfg_file.read_text())
    if cfg.get("peft_type", "LORA") != "LORA":
        raise TransferError(f"{cfg_file}: field 'peft_type' is {cfg.get('peft_type')!r}, only LORA is supported")
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    tensors = load_file(weights)
    deltas: dict[str, torch.Tensor] = {}
    problems = []
    for name, a in tensors.items():
        if ".lora_A." not in name:
            continue
        b_name = name.replace(".lora_A.", ".lora_B.")
        if b_name not in tensors:
            problems.append(f"{name} has no matching {b_name}")
            continue
        target = name.removeprefix(PEFT_PREFIX)
        target = target.replace(".lora_A.default.weight", ".weight").replace(".lora_A.weight", ".weight")
        delta = tensors[b_name].float() @ a.float() * scale  # [out, r] @ [r, in] -> [out, in]
        if not torch.isfinite(delta).all():
            problems.append(f"{name}: the delta contains NaN or inf")
        deltas[target] = delta
    if problems:
        raise TransferError(f"{weights}: " + "; ".join(problems))
    if not deltas:
        raise TransferError(f"{weights}: no lora_A/lora_B tensors found")
    return deltas


def student_shards(student_dir: Path) -> dict[str, list[str]]:
    """Shard file -> tensor names, for a sharded (index) or single-file safetensors checkpoint."""
    from safetensors import safe_open

    index = student_dir / INDEX_FILE
    if index.is_file():
        weight_map = json.loads(index.read_text()).get("weight_map")
        if not isinstance(weight_map, dict):
            raise TransferError(f"{index}: missing field 'weight_map'")
        shards: dict[str, list[str]] = {}
        for name, shard in weight_map.items():
            shards.setdefault(shard, []).append(name)
        missing = [s for s in shards if not (student_dir / s).is_file()]
        if missing:
            raise TransferError(f"{index}: names shard(s) that do not exist: {missing}")
        return shards
    single = student_dir / WEIGHTS_FILE
    if not single.is_file():
        found = sorted(p.name for p in student_dir.glob("*.bin")) + sorted(p.name for p in student_dir.glob("*.pt"))
        extra = f" (found pickle checkpoints {found}: convert them to safetensors)" if found else ""
        raise TransferError(f"{student_dir}: no {WEIGHTS_FILE} or {INDEX_FILE}{extra}")
    with safe_open(single, "pt") as fh:
        return {WEIGHTS_FILE: list(fh.keys())}


def check_compatible(student_dir: Path, deltas: dict[str, torch.Tensor]) -> dict[str, str]:
    """Map each delta to its shard; raise one error listing every missing name and shape mismatch."""
    from safetensors import safe_open

    shards = student_shards(student_dir)
    where = {name: shard for shard, names in shards.items() for name in names}
    problems = [f"{name}: not in the student" for name in sorted(deltas) if name not in where]
    for shard in sorted({where[n] for n in deltas if n in where}):
        with safe_open(student_dir / shard, "pt") as fh:
            for name in sorted(n for n in deltas if where.get(n) == shard):
                shape = tuple(fh.get_slice(name).get_shape())
                if shape != tuple(deltas[name].shape):
                    problems.append(f"{name}: student shape {shape} != delta shape {tuple(deltas[name].shape)}")
    if problems:
        raise TransferError(f"cannot merge into {student_dir}: {len(problems)} problem(s): " + "; ".join(problems))
    return {name: where[name] for name in deltas}


def merge_task_vector(student_dir: str | Path, deltas: dict[str, torch.Tensor], gamma: float,
                      out_dir: str | Path, overwrite: bool = False) -> dict:
    """Write ``student + gamma * delta`` to ``out_dir`` (fp32 arithmetic, cast back); return a manifest."""
    from safetensors.torch import load_file, save_file

    student_dir, out_dir = Path(student_dir), Path(out_dir)
    if not math.isfinite(gamma):
        raise TransferError(f"gamma must be finite, got {gamma}")
    if out_dir.exists() and not overwrite:
        raise TransferError(f"{out_dir} exists; pass overwrite=True (--overwrite) to replace it")
    placement = check_compatible(student_dir, deltas)
    shards = student_shards(student_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    changed = {}
    try:
        for item in student_dir.iterdir():  # config, tokenizer, generation config, index
            if item.is_file() and item.name not in shards:
                shutil.copy2(item, tmp / item.name)
        for shard in shards:
            tensors = load_file(student_dir / shard)
            metadata = _metadata(student_dir / shard)
            for name in (n for n, s in placement.items() if s == shard):
                w = tensors[name]
                tensors[name] = (w.float() + gamma * deltas[name]).to(w.dtype)
                changed[name] = float(deltas[name].norm())
            save_file(tensors, tmp / shard, metadata=metadata or {"format": "pt"})
            del tensors
        manifest = {"student": str(student_dir), "gamma": gamma, "changed": changed,
                    "unchanged": sum(len(v) for v in shards.values()) - len(changed)}
        (tmp / "transfer_manifest.json").write_text(json.dumps(manifest, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _metadata(path: Path) -> dict | None:
    from safetensors import safe_open

    with safe_open(path, "pt") as fh:
        return fh.metadata()
