"""The eval tasks' real hub datasets (deselected by default: they need the network).

    HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m pytest -m network tests/test_hub_network.py
"""

import pytest

from benchmark.core.registry import EVAL_TASKS
from benchmark.eval.eval_task import EvalRun


@pytest.mark.network
@pytest.mark.parametrize("name", ["gsm8k", "math500", "ifeval", "truthfulqa-mc2", "alpacaeval", "arena-hard"])
def test_hub_dataset_loads_and_validates(name):
    task = EVAL_TASKS.get(name)()
    items = task.load(EvalRun(limit=3))
    assert len(items) == 3
