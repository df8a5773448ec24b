"""The farm's fixtures: three hosts' daemons, and an address that never answers."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.testing.requirements import missing_module, require

from .hosts import HOSTS, Farm


@pytest.fixture
def farm(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]) -> Iterator[Farm]:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    f = Farm(tmp_path, shared_fakes_dir, shared_fakes_env)
    try:
        for name in HOSTS:
            f.start(name)
        yield f
    finally:
        for name in list(f.daemons):
            f.stop(name)


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[str]:
    """An address that takes connections and never answers (a host hung in the kernel's backlog)."""
    listener = socket.socket()
    listener.bind(("127.0.0.9", 0))
    listener.listen(16)
    try:
        yield f"127.0.0.9:{listener.getsockname()[1]}"
    finally:
        listener.close()
