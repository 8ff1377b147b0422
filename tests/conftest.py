"""Shared fixtures: no network, a micro model family built once per session, plugin paths."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "plugins"
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def no_network(monkeypatch, request):
    """Fail any test that opens a socket to a non-loopback address (tests marked ``network`` excepted)."""
    if request.node.get_closest_marker("network"):
        return
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("family-cache")


@pytest.fixture(scope="session")
def micro_plugins():
    from benchmark.core.registry import load_plugin_file

    load_plugin_file(PLUGINS / "micro_suite.py")
    load_plugin_file(PLUGINS / "constant_method.py")
    return [str(PLUGINS / "micro_suite.py"), str(PLUGINS / "constant_method.py")]


@pytest.fixture(scope="session")
def micro_pair(micro_plugins, cache_dir):
    """The micro family's (AR, DLLM) pair, built once per session in a few seconds."""
    from benchmark.core.api import FamilyContext
    from benchmark.core.registry import FAMILIES, SUITES, TASKS

    suite = SUITES.get("micro")
    tasks = [TASKS.get(n)() for n in suite.tasks]
    return FAMILIES.get("micro")().prepare(FamilyContext(tasks, cache_dir))


@pytest.fixture(scope="session")
def tiny_cache_dir(tmp_path_factory) -> Path:
    """Cache of the real tiny family (about 1.5 min to build once); BENCH_TEST_TINY_CACHE reuses one."""
    preset = os.environ.get("BENCH_TEST_TINY_CACHE")
    return Path(preset) if preset else tmp_path_factory.mktemp("tiny-cache")


@pytest.fixture(scope="session")
def tiny_pair(tiny_cache_dir):
    from benchmark.core.api import FamilyContext
    from benchmark.core.registry import FAMILIES, SUITES, TASKS
    from benchmark.harness import suites  # noqa: F401

    suite = SUITES.get("tiny")
    return FAMILIES.get("tiny")().prepare(FamilyContext([TASKS.get(n)() for n in suite.tasks], tiny_cache_dir))
