"""Where a result came from: package versions, the git revision, and the machine it ran on.

Every cell record and transfer manifest carries these, so two result folders can be compared knowing
what differed (a CPU with AMX rounds matrix products differently from one without; a thread count
changes the order of reductions).
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "safetensors", "pandas", "lm_eval")
# CPU flags that change which matrix kernels torch picks (and so the low bits of every result).
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile",
             "asimd", "sve")


def package_versions() -> dict:
    """Python and the versions of the libraries a result depends on (None when not installed)."""
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return versions


def git_revision() -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=here)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "") if rev.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_info() -> dict:
    """CPU model, the instruction-set flags that matter for matrix kernels, and the cores this process may use."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model") and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "flags": [f for f in CPU_FLAGS if f in flags],
            "cores_available": cores_available()}


def cores_available() -> int:
    """The CPU cores this process may run on (its affinity mask), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def apply_threads() -> int:
    """torch's intra-op thread count from ``$DLLM_BENCH_THREADS`` (the command line's ``--threads``, default
    the cores available); without the variable (library use) torch's own setting is left alone."""
    import torch

    wanted = os.environ.get("DLLM_BENCH_THREADS")
    if wanted and torch.get_num_threads() != int(wanted):
        torch.set_num_threads(int(wanted))
    return torch.get_num_threads()


def torch_runtime() -> dict:
    """Thread count, BLAS/oneDNN builds, determinism settings and the GPU (imports torch)."""
    import re

    import torch

    cuda = torch.cuda.is_available()
    build = torch.__config__.show()

    def found(pattern: str) -> str | None:
        match = re.search(pattern, build)
        return match.group(1) if match else None

    return {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkl_version": found(r"Math Kernel Library Version ([\w.\-]+)"),
        "onednn_version": found(r"MKL-DNN v([\d.]+)"),
        "cpu_capability": found(r"CPU capability usage: (\w+)"),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
    }


def hardware() -> dict:
    """The machine a result ran on: CPU, torch runtime, OS."""
    return {"cpu": cpu_info(), "torch": torch_runtime(), "os": f"{platform.system()} {platform.release()}"}


def source_of(cls: type) -> list[dict]:
    """The code a plugin class runs: module and file hash of it and of each plugin base class it inherits.

    Part of every cell's config, so a different implementation under the same name never shares a cell
    (and editing a method's file reruns its cells)."""
    import hashlib
    import inspect

    out = []
    for klass in cls.__mro__:
        module = klass.__module__
        if module.startswith(("benchmark.core", "builtins", "abc")) or module == "typing":
            continue
        try:
            path = Path(inspect.getsourcefile(klass) or "")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None
        except (TypeError, OSError):
            digest = None
        out.append({"class": f"{module}:{klass.__qualname__}", "sha256": digest})
    return out


def distributed_rank() -> int:
    """This process's rank under ``accelerate launch``/torchrun (0 otherwise): only rank 0 scores and writes."""
    return int(os.environ.get("RANK", "0"))
