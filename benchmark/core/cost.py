"""What a cell cost: wall seconds, model forward passes, tokens processed, peak resident memory.

Forward passes are counted by a global module hook on every call of a top-level ``transformers`` LM,
so methods need no bookkeeping of their own (trl, our trainers and ``generate`` are all seen).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _peak_rss_mb() -> float:
    """Peak RSS since the last reset (Linux VmHWM), else the process lifetime peak."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


class CostMeter:
    """Context manager measuring one stage; ``add`` folds in the recorded cost of reused work."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.forward_passes = 0
        self.tokens = 0
        self.peak_rss_mb = 0.0
        self.peak_is_per_stage = False
        self.reused: list[dict] = []

    def _hook(self, module, args, kwargs, output) -> None:
        from transformers import GenerationMixin, PreTrainedModel

        # Only the top-level LM counts (not its inner decoder, not peft wrappers around it).
        if isinstance(module, PreTrainedModel) and isinstance(module, GenerationMixin):
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is None:
                ids = kwargs.get("inputs_embeds")
            self.forward_passes += 1
            self.tokens += int(ids.shape[0] * ids.shape[1]) if ids is not None and ids.dim() >= 2 else 0

    def __enter__(self) -> CostMeter:
        import torch

        self.peak_is_per_stage = _reset_peak_rss()
        self._handle = torch.nn.modules.module.register_module_forward_hook(self._hook, with_kwargs=True)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_s += time.perf_counter() - self._t0
        self._handle.remove()
        self.peak_rss_mb = max(self.peak_rss_mb, _peak_rss_mb())

    def add(self, recorded: dict, what: str) -> None:
        """Count work done earlier (e.g. a cached teacher run) as part of this cell's cost."""
        self.wall_s += recorded.get("wall_s", 0.0)
        self.forward_passes += recorded.get("forward_passes", 0)
        self.tokens += recorded.get("tokens", 0)
        self.reused.append({"what": what, **recorded})

    def to_dict(self) -> dict:
        return {"wall_s": round(self.wall_s, 3), "forward_passes": self.forward_passes, "tokens": self.tokens,
                "peak_rss_mb": round(self.peak_rss_mb, 1), "peak_rss_scope": "stage" if self.peak_is_per_stage
                else "process", "reused": self.reused}
