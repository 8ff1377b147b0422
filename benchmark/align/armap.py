"""AR-MAP end to end on any checkpoint: the task vector, gamma (given or chosen by reward accuracy), the merge.

    python -m benchmark transfer --student DREAM_DIR --lora ADAPTER_DIR --gamma 6 --out MERGED_DIR
    python -m benchmark transfer --student DIR --aligned AR_DPO --base AR --gamma auto --pairs heldout.jsonl --out DIR

Dependencies run one way: this module uses ``transfer`` (task vectors, merge) and ``gamma`` (the sweep,
which needs the ELBO from ``benchmark.models.elbo``); neither imports this one. With ``--gamma auto`` the
curve is written beside the output as ``OUT.gamma/gamma_curve.csv|png``.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.align.checkpoint import Checkpoint, TransferError
from benchmark.align.gamma import sweep_gamma, write_curve
from benchmark.align.transfer import Gammas, TaskVector, full_task_vector, lora_task_vector, merge_task_vector
from benchmark.core.api import SamplerSettings
from benchmark.core.cost import CostMeter
from benchmark.core.preference_data import PREFERENCE_DATA, load_preference_data
from benchmark.core.registry import TASKS
from benchmark.core.store import atomic_write_text, refuse_overlap
from benchmark.models.batching import diffusion_batch
from benchmark.models.generation import decode
from benchmark.models.loading import load_tokenizer


def transfer(student: Path, out: Path, gamma: float | str, lora: Path | None = None, aligned: Path | None = None,
             base: Path | None = None, gamma_attn: float | None = None, gamma_mlp: float | None = None,
             profile: str = "identity", allow_partial: bool = False, overwrite: bool = False,
             pairs: Path | None = None, shift: bool = True,
             score_task: str | None = None, score_limit: int = 64, workers: int | None = None,
             pairs_format: str = "plain") -> dict:
    """What ``python -m benchmark transfer`` does; returns the manifest (with the gamma curve if auto).

    ``score_task`` (with ``gamma="auto"``) adds a registered task's score at every gamma of the curve, on
    ``score_limit`` of its evaluation prompts: a diagnostic beside reward accuracy, which alone chooses.
    The manifest's ``run.cost`` counts all of it, the gamma search included.
    """
    if (lora is None) == (aligned is None and base is None):
        raise TransferError("give either --lora ADAPTER_DIR or both --aligned DIR and --base DIR")
    if lora is None and (aligned is None or base is None):
        raise TransferError("a full task vector needs both --aligned DIR and --base DIR")
    refuse_overlap(out, "--out", {"--student": student, "--lora": lora, "--aligned": aligned, "--base": base,
                                  "--pairs": pairs})
    if Path(out).exists() and not Path(out).is_dir():
        raise TransferError(f"--out {out} is a file; name a folder for the merged checkpoint")
    if Path(out).exists() and not overwrite:  # fail before any expensive work
        raise TransferError(f"{out} exists; pass --overwrite to replace it")
    PREFERENCE_DATA.get(pairs_format)  # an unknown format fails before any work
    if score_task is not None and gamma != "auto":
        raise TransferError("--score-task adds a task score to the gamma curve; it needs --gamma auto")
    Checkpoint(student)  # validates the student up front (index, shards, pickles)
    with CostMeter() as meter:
        if lora is not None:
            delta = lora_task_vector(lora, profile)
            teacher_config = _adapter_base_config(lora)
        else:
            delta = full_task_vector(aligned, base, profile)
            teacher_config = Checkpoint(base).config()
        curve = None
        if gamma == "auto":
            gamma, curve = _auto_gamma(Path(student), delta, pairs, shift,
                                       Path(out).with_name(Path(out).name + ".gamma"), score_task, score_limit,
                                       pairs_format)
        manifest = merge_task_vector(student, delta, Gammas(float(gamma), gamma_attn, gamma_mlp), out,
                                     overwrite=overwrite, allow_partial=allow_partial, teacher_config=teacher_config,
                                     progress=True, workers=workers)
    if curve is not None:
        manifest["gamma_curve"] = curve
    manifest["run"]["cost"] = meter.to_dict()
    atomic_write_text(Path(out) / "transfer_manifest.json", json.dumps(manifest, indent=2))
    return manifest


def _adapter_base_config(adapter_dir: Path) -> dict | None:
    """The teacher's config, when the adapter names a local base model folder."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    base = cfg.get("base_model_name_or_path")
    if base and (Path(base) / "config.json").is_file():
        return json.loads((Path(base) / "config.json").read_text())
    return None


def _auto_gamma(student: Path, delta: TaskVector, pairs: Path | None, shift: bool, curve_dir: Path,
                score_task: str | None = None, score_limit: int = 64, pairs_format: str = "plain"):
    if pairs is None:
        raise TransferError("--gamma auto needs --pairs FILE (held-out preference pairs; --pairs-format says "
                            "which format: plain, hh-rlhf, llamafactory, ultrafeedback)")
    rows = load_preference_data(pairs_format, Path(pairs))
    tok = load_tokenizer(student)
    if tok.mask_token_id is None:
        raise TransferError(f"{student}: the tokenizer has no mask token; --gamma auto needs a DLLM student")

    def chat(prompt: str) -> str:
        return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                       add_generation_prompt=True) if tok.chat_template else prompt

    prompts = [r.render(tok) for r in rows]  # the whole chat history through the student's template
    responses = [r.chosen for r in rows] + [r.rejected for r in rows]
    region = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in responses) + 1
    batch = diffusion_batch(tok, prompts * 2, responses, region)
    scorer = _task_scorer(score_task, score_limit, tok, chat, shift) if score_task else None
    best, points = sweep_gamma(student, delta, batch, tok.mask_token_id, shift, task_score=scorer)
    write_curve(points, best, curve_dir)
    return best, [p.__dict__ for p in points]


def _task_scorer(task_name: str, limit: int, tok, chat, shift: bool):
    """``score(model, gamma)``: the task's main metric (%) on its first ``limit`` eval prompts of seed 0."""
    task = TASKS.get(task_name)()
    items = task.build(0, 0, 0, limit).eval[:limit]
    main = task.metrics[0].name

    def score(model, gamma: float) -> float:
        answers = decode(model, tok, "dllm", [chat(i.prompt) for i in items], SamplerSettings(),
                         tok.mask_token_id, shift, seed=0)
        return 100 * sum(task.score(i, a)[main] for i, a in zip(items, answers)) / len(items)

    return score

