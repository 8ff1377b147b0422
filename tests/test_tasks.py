"""Contract tests run on every registered task, plus the data loader's error messages."""

import json
import random

import pytest

from benchmark.core.api import EvalItem, PreferencePair
from benchmark.core.data import DataError, read_rows
from benchmark.core.registry import TASKS

TASK_NAMES = TASKS.names()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_contract(name):
    task = TASKS.get(name)()
    data = task.build(seed=0, n_train=50, n_heldout=10, n_eval=20)
    assert data.train and data.heldout and data.eval
    train_prompts = {p.prompt for p in data.train}
    assert not train_prompts & {i.prompt for i in data.eval}, "eval prompts leak into training pairs"
    assert not train_prompts & {p.prompt for p in data.heldout}
    assert task.build(seed=0, n_train=50, n_heldout=10, n_eval=20) == data, "same seed, same data"
    assert task.build(seed=1, n_train=50, n_heldout=10, n_eval=20) != data
    for item in data.eval:
        scores = task.score(item, "")
        assert set(scores) == {m.name for m in task.metrics}
        assert all(0.0 <= v <= 1.0 for v in scores.values())


@pytest.mark.parametrize("name", TASK_NAMES)
def test_chosen_beats_rejected_under_the_verifier(name):
    """A pair's chosen answer must pass the task's own verifier and its rejected answer must not."""
    task = TASKS.get(name)()
    items = {i.prompt: i for i in _all_items(task)}
    main = task.metrics[0].name
    for pair in task.build(seed=3, n_train=300, n_heldout=0, n_eval=0).train:
        assert task.score(items[pair.prompt], pair.chosen)[main] == 1.0, pair
        assert task.score(items[pair.prompt], pair.rejected)[main] == 0.0, pair


@pytest.mark.parametrize("name", TASK_NAMES)
def test_corpus_shows_good_and_bad_behaviour(name):
    task = TASKS.get(name)()
    corpus = task.corpus(random.Random(0), 400)
    if not corpus:
        pytest.skip("task has no text corpus")
    main = task.metrics[0].name
    items = {i.prompt: i for i in _all_items(task)}
    scored = [task.score(items[p], r)[main] for p, r in corpus if p in items]
    assert 0.2 < sum(scored) / len(scored) < 0.9, "the corpus must mix preferred and dispreferred answers"


def _all_items(task):
    """Every prompt of a synthetic task as an eval item (its split rule switched off)."""
    from tasks import synthetic

    original = synthetic.split_of
    try:
        synthetic.split_of = lambda key: "eval"
        return task.build(seed=0, n_train=0, n_heldout=0, n_eval=10_000).eval
    finally:
        synthetic.split_of = original


def _write(tmp_path, lines: list[bytes]):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("line, message", [
    (b'{"prompt": "q", "chosen": "a"}', "missing field 'rejected'"),
    (b'{"prompt": "q", "chosen": 3, "rejected": "b"}', "field 'chosen' must be a string"),
    (b'{"prompt": "q", "chosen": "  ", "rejected": "b"}', "field 'chosen' is empty"),
    (b'{"prompt": "q", "chosen": "a", "rejected": "b"', "invalid JSON"),
    (b'["q", "a", "b"]', "expected a JSON object"),
    (b'{"prompt": "q\xff", "chosen": "a", "rejected": "b"}', "not valid UTF-8"),
])
def test_malformed_row_names_file_line_and_field(tmp_path, line, message):
    good = json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}).encode()
    path = _write(tmp_path, [good, line])
    with pytest.raises(DataError) as err:
        read_rows(path, PreferencePair.from_row)
    assert f"{path}:2" in str(err.value)
    assert message in str(err.value)


def test_valid_rows_and_eval_items(tmp_path):
    path = _write(tmp_path, [json.dumps({"prompt": "q", "target": {"answer": "7"}, "extra": 1}).encode()])
    assert read_rows(path, EvalItem.from_row) == [EvalItem("q", {"answer": "7"})]
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl", EvalItem.from_row)
