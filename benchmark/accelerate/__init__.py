"""accelerate configuration files shipped with the package (cpu, ddp, fsdp, zero2, zero3); each file's
header says when to use it. ``config_file(name)`` gives the path for ``accelerate launch --config_file``."""

from pathlib import Path

CONFIGS = ("cpu", "ddp", "fsdp", "zero2", "zero3")


def config_file(name: str) -> Path:
    if name not in CONFIGS:
        raise ValueError(f"unknown accelerate config {name!r}; shipped: {', '.join(CONFIGS)}")
    return Path(__file__).parent / f"{name}.yaml"
