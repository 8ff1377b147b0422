"""Device, precision and batch split arguments every trainer of the project takes, so that one method runs
unchanged on a laptop CPU (fp32, exact, what the tests compare), on a GPU (bf16 autocast where the GPU
has it) and under ``accelerate launch`` on N processes (the suite's batch is the global batch)."""

from __future__ import annotations

import os

import torch

from benchmark.core.errors import BenchmarkError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def trainer_device_args(batch_size: int) -> dict:
    """``TrainingArguments`` fields: CPU in fp32 without CUDA; with CUDA, the GPU and bf16 if supported; the
    per-device batch that keeps the global batch at ``batch_size`` on every number of processes."""
    n = world_size()
    if batch_size % n:
        raise BenchmarkError(f"the suite's batch_size {batch_size} does not split over {n} processes; "
                             f"use a multiple of {n}")
    cuda = torch.cuda.is_available()
    return {"use_cpu": not cuda, "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
            "per_device_train_batch_size": batch_size // n}


def logging_steps(steps: int) -> int:
    """About 20 logged losses per run, every step for short ones (the loss trajectory in each record)."""
    return max(1, steps // 20)
