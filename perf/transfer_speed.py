"""Memory and speed of the AR-MAP transfer on a synthetic sharded checkpoint (prints its figures).

    python perf/transfer_speed.py                 # 12 layers, hidden 2048: ~1.06 GB bf16 in 4 shards
    python perf/transfer_speed.py --layers 24     # ~2.1 GB

Goals (issue #4): peak RSS above the interpreter's baseline after imports at most 1.5x (largest shard +
delta tensors), and at least 0.5x the throughput of `cp` on the same files. The checkpoint is made in a
child process so that its allocations do not count. A second child, after its imports, times `cp` and
the merge alternately (each goes first in every other pair), each step from the same state: outputs
removed, dirty pages flushed, and with ``--drop-caches`` (root) a dropped page cache holding just the
inputs. Both steps write the same bytes into the page cache, and on a VM that cost moves a lot (a plain
`pwrite` loop putting 1 GiB there took 0.3-3 s of kernel time from one try to the next on ours, likely
its balloon device handing freed pages back to the host). Hence the interleaving, and best and median
ratios side by side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN, INTER, KV = 2048, 5632, 256
LINEARS = {"self_attn.q_proj": (HIDDEN, HIDDEN), "self_attn.k_proj": (KV, HIDDEN), "self_attn.v_proj": (KV, HIDDEN),
           "self_attn.o_proj": (HIDDEN, HIDDEN), "mlp.gate_proj": (INTER, HIDDEN), "mlp.up_proj": (INTER, HIDDEN),
           "mlp.down_proj": (HIDDEN, INTER)}


def make(root: Path, layers: int, shards: int, rank: int) -> None:
    import torch
    from safetensors.torch import save_file

    student, adapter = root / "student", root / "adapter"
    student.mkdir(parents=True)
    adapter.mkdir()
    per_shard = -(-layers // shards)
    weight_map, lora = {}, {}
    g = torch.Generator().manual_seed(0)
    for s in range(shards):
        tensors = {}
        for layer in range(s * per_shard, min(layers, (s + 1) * per_shard)):
            for lin, (out_f, in_f) in LINEARS.items():
                name = f"model.layers.{layer}.{lin}.weight"
                tensors[name] = (torch.randn(out_f, in_f, generator=g) * 0.02).to(torch.bfloat16)
                prefix = f"base_model.model.model.layers.{layer}.{lin}"
                lora[f"{prefix}.lora_A.weight"] = torch.randn(rank, in_f, generator=g) * 0.01
                lora[f"{prefix}.lora_B.weight"] = torch.randn(out_f, rank, generator=g) * 0.01
            tensors[f"model.layers.{layer}.input_layernorm.weight"] = torch.ones(HIDDEN, dtype=torch.bfloat16)
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file(tensors, student / fname, metadata={"format": "pt"})
        weight_map.update({k: fname for k in tensors})
        del tensors
    (student / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (student / "config.json").write_text(json.dumps({"model_type": "qwen2", "hidden_size": HIDDEN,
                                                     "num_hidden_layers": layers}))
    save_file(lora, adapter / "adapter_model.safetensors")
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank}))


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def prepare(root: Path, shards: list[Path], drop_caches: bool) -> None:
    """The same starting state before every timed step: no earlier output on disk, dirty pages flushed,
    and with ``drop_caches`` a clean page cache holding just the inputs."""
    for out in ("merged", "cp"):
        shutil.rmtree(root / out, ignore_errors=True)
    subprocess.run(["sync"], check=True)
    if drop_caches:
        Path("/proc/sys/vm/drop_caches").write_text("3")
        subprocess.run(["cat", *map(str, shards)], check=True, stdout=subprocess.DEVNULL)


def measure(root: Path, repeats: int, drop_caches: bool) -> None:
    """Time `cp` and the transfer alternately in this one process, after its imports, each from `prepare`."""
    import torch  # noqa: F401
    from tqdm.auto import tqdm

    from benchmark.align.transfer import lora_task_vector, merge_task_vector  # imports excluded from timing

    shards = sorted((root / "student").glob("*.safetensors"))
    baseline = rss_mb("VmRSS")
    cp_s, transfer_s, peak = [], [], 0.0
    for i in tqdm(range(repeats), desc="cp + transfer pairs", file=sys.stderr):
        for step in (("cp", "transfer") if i % 2 == 0 else ("transfer", "cp")):  # neither always goes first
            prepare(root, shards, drop_caches)
            if step == "cp":
                start = time.perf_counter()
                subprocess.run(["cp", "-r", str(root / "student"), str(root / "cp")], check=True)
                cp_s.append(time.perf_counter() - start)
                continue
            Path("/proc/self/clear_refs").write_text("5")  # restart the peak RSS count
            start = time.perf_counter()
            merge_task_vector(root / "student", lora_task_vector(root / "adapter"), 2.0, root / "merged")
            transfer_s.append(time.perf_counter() - start)
            peak = max(peak, rss_mb("VmHWM") - baseline)
    print(json.dumps({"cp_s": cp_s, "transfer_s": transfer_s, "peak_above_baseline_mb": peak, "baseline_mb": baseline}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved cp/transfer pairs (VM I/O is noisy)")
    parser.add_argument("--drop-caches", action="store_true",
                        help="sync and drop the page cache before each pair (root only): comparable starting states")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--_make", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._make:
        return make(args._make, args.layers, args.shards, args.rank)
    if args._measure:
        return measure(args._measure, args.repeats, args.drop_caches)

    root = args.dir or Path(tempfile.mkdtemp(prefix="transfer-bench-"))
    try:
        me = [sys.executable, __file__, "--layers", str(args.layers), "--shards", str(args.shards),
              "--rank", str(args.rank)]
        subprocess.run(me + ["--_make", str(root)], check=True)
        shards = sorted((root / "student").glob("*.safetensors"))
        total = sum(p.stat().st_size for p in shards)
        largest = max(p.stat().st_size for p in shards)
        adapter = (root / "adapter" / "adapter_model.safetensors").stat().st_size
        measure_cmd = me + ["--_measure", str(root), "--repeats", str(args.repeats)]
        out = subprocess.run(measure_cmd + ["--drop-caches"] * args.drop_caches, check=True, stdout=subprocess.PIPE,
                             text=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        cp_times, walls, peak = figures["cp_s"], figures["transfer_s"], figures["peak_above_baseline_mb"]
        print(f"each run (s), interleaved: cp {[round(t, 2) for t in cp_times]}, "
              f"transfer {[round(t, 2) for t in walls]}")
        cp_s, wall = min(cp_times), min(walls)
        bound = 1.5 * (largest + adapter) / 2**20
        print(f"checkpoint: {total / 2**30:.2f} GiB bf16 in {len(shards)} shards (largest {largest / 2**20:.0f} MiB), "
              f"LoRA r={args.rank} on all {len(LINEARS)} linears per layer ({adapter / 2**20:.0f} MiB)")
        print(f"cp:       {cp_s:.2f} s  ({total / 2**20 / cp_s:.0f} MiB/s)")
        print(f"transfer: {wall:.2f} s  ({total / 2**20 / wall:.0f} MiB/s), imports excluded")
        print(f"throughput ratio transfer/cp: {cp_s / wall:.2f} best vs best, "
              f"{statistics.median(cp_times) / statistics.median(walls):.2f} median vs median  (goal >= 0.5)")
        print(f"peak RSS above baseline: {peak:.0f} MiB; goal <= 1.5 x (largest shard + delta) = {bound:.0f} MiB "
              f"-> ratio {peak / (bound / 1.5):.2f} (goal <= 1.5)")
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
