"""The streaming shard rewriter on its own: blocks, dtypes, workers, and errors raised from a worker."""

import json
import struct
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

from benchmark.align import shard_rewrite
from benchmark.align.checkpoint import TransferError
from benchmark.align.shard_rewrite import rewrite_shard


@pytest.fixture()
def shard(tmp_path):
    g = torch.Generator().manual_seed(0)
    tensors = {
        "a.weight": torch.randn(37, 50, generator=g).to(torch.bfloat16),
        "b.weight": torch.randn(11, 3, 4, generator=g).to(torch.float16),
        "c.bias": torch.randn(9, generator=g),
        "d.scale": torch.tensor(2.5),
        "ids": torch.arange(7),
    }
    path = tmp_path / "in.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    return path, tensors


def add_row_index(name, r0, r1, block):
    """A delta that depends on the row, so a misplaced block shows."""
    block += torch.arange(r0, r1, dtype=torch.float32).view(-1, *[1] * (block.dim() - 1)) * 0.5


@pytest.mark.parametrize("mapped", [True, False], ids=["memory-mapped", "pread"])
@pytest.mark.parametrize(("block_bytes", "workers"), [(64, 3), (1 << 20, 1), (256, 2)])
def test_blocks_land_at_their_offsets_in_every_dtype(shard, tmp_path, block_bytes, workers, mapped, monkeypatch):
    if not mapped:  # the path of platforms without madvise
        monkeypatch.delattr(shard_rewrite.mmap, "MADV_DONTNEED", raising=False)
    src, tensors = shard
    names = {"a.weight", "b.weight", "c.bias", "d.scale"}
    out = tmp_path / "out.safetensors"
    updated = rewrite_shard(src, out, names, add_row_index, block_bytes=block_bytes, workers=workers)
    assert set(updated) == names
    got = load_file(out)
    for name, t in tensors.items():
        if name not in names:
            assert torch.equal(got[name], t)
            continue
        rows = t.shape[0] if t.dim() else 1
        ramp = torch.arange(rows, dtype=torch.float32).view(-1, *[1] * max(0, t.dim() - 1)) * 0.5
        expected = (t.float().reshape(rows, -1) + ramp.reshape(rows, -1)).reshape(t.shape).to(t.dtype)
        assert got[name].dtype == t.dtype and torch.equal(got[name], expected), name
    assert out.read_bytes()[:200] == src.read_bytes()[:200]  # header copied verbatim


def test_an_error_in_a_worker_reaches_the_caller(shard, tmp_path):
    src, _ = shard

    def fail(name, r0, r1, block):
        raise TransferError(f"boom in {name}")

    with pytest.raises(TransferError, match="boom in a.weight"):
        rewrite_shard(src, tmp_path / "out.safetensors", {"a.weight"}, fail, block_bytes=64, workers=2)


def test_integer_tensor_cannot_take_a_delta(shard, tmp_path):
    src, _ = shard
    with pytest.raises(TransferError, match="ids has dtype I64"):
        rewrite_shard(src, tmp_path / "out.safetensors", {"ids"}, add_row_index)


def test_fp16_overflow_is_refused(tmp_path):
    src = tmp_path / "in.safetensors"
    save_file({"w": torch.full((2, 2), 60000.0, dtype=torch.float16)}, src)
    with pytest.raises(TransferError, match="NaN or inf in float16"):
        rewrite_shard(src, tmp_path / "out.safetensors", {"w"}, lambda n, r0, r1, b: b.add_(10000.0))


def test_tensors_at_odd_offsets_are_read_without_a_map(tmp_path):
    """A hand-made file whose data starts at an odd byte: a bf16 view of the map would be misaligned."""
    values = torch.arange(12, dtype=torch.float32).view(3, 4).to(torch.bfloat16)
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3, 4], "data_offsets": [0, 24]}}).encode()
    header += b" " * (1 - len(header) % 2)  # odd length: data starts at 8 + odd
    src = tmp_path / "odd.safetensors"
    src.write_bytes(struct.pack("<Q", len(header)) + header + values.view(torch.uint8).numpy().tobytes())
    out = tmp_path / "out.safetensors"
    assert rewrite_shard(src, out, {"w"}, add_row_index, block_bytes=16, workers=2) == ["w"]
    data = out.read_bytes()[8 + len(header):]
    got = torch.frombuffer(bytearray(data), dtype=torch.bfloat16).view(3, 4)
    assert torch.equal(got, (values.float() + torch.arange(3.0).view(3, 1) * 0.5).to(torch.bfloat16))
    assert out.read_bytes()[:8 + len(header)] == src.read_bytes()[:8 + len(header)]


def test_the_first_error_stops_the_other_workers():
    ran = []

    def job(i):
        if i == 3:
            raise ValueError("job 3 failed")
        time.sleep(0.001)  # releases the GIL, as file I/O and torch do
        ran.append(i)

    jobs = [lambda i=i: job(i) for i in range(2000)]
    with pytest.raises(ValueError, match="job 3 failed"):
        shard_rewrite._run_jobs(jobs, workers=3)
    assert len(ran) < 100  # the others stopped after their current job instead of draining the list
    assert sorted(ran) == sorted(set(ran))  # no job ran twice


def test_a_file_that_cannot_be_mapped_is_read_with_pread(shard, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")  # what mmap gives on a file system that cannot map files

    monkeypatch.setattr(shard_rewrite.mmap, "mmap", refuse)
    src, tensors = shard
    out = tmp_path / "out.safetensors"
    assert rewrite_shard(src, out, {"a.weight"}, add_row_index, block_bytes=256, workers=2) == ["a.weight"]
    ramp = torch.arange(37, dtype=torch.float32).view(-1, 1) * 0.5
    assert torch.equal(load_file(out)["a.weight"], (tensors["a.weight"].float() + ramp).to(torch.bfloat16))
