"""Families given by checkpoints: an AR model and the DLLM of the same architecture, each a local folder or
a hub id (with a revision), as a suite file names them:

    [families.qwen-dream]
    ar = "Qwen/Qwen2.5-7B-Instruct"        # or a local folder
    dllm = "Dream-org/Dream-v0-Instruct-7B"
    revision = "main"                      # hub revision of both (or ar_revision / dllm_revision)
    # mask_token_id, shift, block_attention: read from the checkpoint (tokenizer mask token, config
    # mask_token_id, SDAR's model type) unless set here; [families.X.sampler] sets the DLLM's decoding

Hub ids are fetched with ``huggingface_hub.snapshot_download`` (from the HF cache when offline). The build
hash is a fingerprint of both folders (config and weight file sizes), so a changed checkpoint reruns its
cells. Families the project builds (``tiny``) are the other kind; both give a ``ModelPair``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.api import Family, FamilyContext, ModelPair, SamplerSettings
from benchmark.core.errors import BenchmarkError
from benchmark.core.hashing import config_hash
from benchmark.models.loading import default_block_attention, load_tokenizer


@dataclass(frozen=True)
class CheckpointSpec:
    name: str
    ar: str
    dllm: str
    ar_revision: str | None = None
    dllm_revision: str | None = None
    mask_token_id: int | None = None
    shift: bool | None = None
    block_attention: int | None = None
    default_gamma: float = 1.0
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    where: str = "suite"  # the file and table it came from, for errors


def resolve_checkpoint(ref: str, revision: str | None, where: str) -> Path:
    """A local folder as it is, or a hub id through the HF cache (downloading when online)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BenchmarkError(f"{where}: {path} is a folder without config.json (not a checkpoint)")
        return path
    if ref.startswith((".", "/", "~")) or ref.count("/") != 1:
        raise BenchmarkError(f"{where}: {ref!r} is neither an existing folder nor a hub id (owner/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(ref, revision=revision,
                                      allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.py"]))
    except Exception as exc:  # offline without a cached copy, a wrong id or revision
        raise BenchmarkError(f"{where}: hub checkpoint {ref!r} (revision {revision or 'main'}) is not available: "
                             f"{type(exc).__name__}: {str(exc)[:300]}. Offline? Fill the HF cache first, or give "
                             "a local folder") from exc


def _fingerprint(path: Path) -> dict:
    """The config and each weight/config file's name, size and modification time: weights retrained in place
    (same names and sizes) give another fingerprint, so the cells scored on the old ones are not reused."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".safetensors"))
    return {"config": (path / "config.json").read_text(),
            "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]}


def _mask_token_id(dllm: Path, where: str) -> int:
    tok = load_tokenizer(dllm)
    if tok.mask_token_id is not None:
        return int(tok.mask_token_id)
    config_mask = json.loads((dllm / "config.json").read_text()).get("mask_token_id")
    if config_mask is None:
        raise BenchmarkError(f"{where}: the DLLM {dllm} names no mask token (tokenizer mask_token, config.json "
                             "mask_token_id); set mask_token_id in the suite")
    return int(config_mask)


class CheckpointFamily(Family):
    """A ``Family`` over two checkpoints (see the module docstring)."""

    description = "an AR checkpoint and the DLLM of the same architecture (folders or hub ids)"

    def __init__(self, spec: CheckpointSpec) -> None:
        self.spec = spec
        self.name = spec.name

    def prepare(self, ctx: FamilyContext) -> ModelPair:
        spec = self.spec
        ar = resolve_checkpoint(spec.ar, spec.ar_revision, f"{spec.where} key 'ar'")
        dllm = resolve_checkpoint(spec.dllm, spec.dllm_revision, f"{spec.where} key 'dllm'")
        block = spec.block_attention if spec.block_attention is not None else default_block_attention(dllm)
        shift = spec.shift if spec.shift is not None else block is None  # Dream keeps the AR shift; SDAR not
        mask = spec.mask_token_id if spec.mask_token_id is not None else _mask_token_id(dllm, spec.where)
        digest = config_hash({"ar": _fingerprint(ar), "dllm": _fingerprint(dllm), "mask": mask, "shift": shift,
                              "block_attention": block})
        return ModelPair(family=spec.name, ar_path=ar, dllm_path=dllm, mask_token_id=mask, shift=shift,
                         default_gamma=spec.default_gamma, sampler=spec.sampler, build_hash=digest,
                         chat_prompt="{prompt}")
