"""GPU-only checks (``pytest -m gpu``; off in the default run and in CI, which have no GPU)."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_paper_mini_runs_end_to_end(tmp_path):
    """The paper's path on one GPU: paper-mini, one seed, every method, three tasks (about an hour; the
    weights and HH come from the hub or the HF cache; offline without them in the cache: skipped)."""
    import os

    from benchmark.harness.paper import _in_hf_cache
    from benchmark.harness.runner import RunConfig, run

    if os.environ.get("HF_HUB_OFFLINE") and not all(_in_hf_cache(r) for r in (
            "Qwen/Qwen3-0.6B", "dllm-collection/Qwen3-0.6B-diffusion-mdlm-v0.1")):
        pytest.skip("offline, and paper-mini's weights are not in the local HF cache")

    board = run(RunConfig(suite="paper-mini", seeds=1, out=tmp_path / "out"))
    assert set(board["method"]) == {"base", "ar-dpo", "ar-map", "elbo-dpo", "vrpo"}
    for task in ("truthfulqa-mc2", "gsm8k", "ifeval", "average"):
        assert board[task].notna().all(), task
