"""Device and precision arguments every trainer of the project takes, so that the same method runs on a
laptop CPU (fp32, exact, what the tests compare) and on a GPU (bf16 autocast where the GPU has it)."""

from __future__ import annotations

import torch


def trainer_device_args() -> dict:
    """``TrainingArguments`` fields: CPU in fp32 without CUDA; with CUDA, the GPU, bf16 autocast if supported."""
    cuda = torch.cuda.is_available()
    return {"use_cpu": not cuda, "bf16": bool(cuda and torch.cuda.is_bf16_supported())}
