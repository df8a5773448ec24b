"""Fixtures of the wnod-lsf tests: an emulated LSF cluster, its commands, and the adapter wired to them.

LSF cannot be installed on the project's machines, so ``lsfemu`` (beside this file) stands in
for it: real executables named bjobs, bhosts, badmin, ... that print what IBM documents, over
one cluster state in a file. The adapter runs them exactly as it runs LSF's: as subprocesses,
from ``bin_dir``, with a timeout.
"""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the test modules import lsfemu

from lsfemu import Cluster, environ, install
from lsfemu.driver import fake_accounts

from wnod_lsf.adapter import LsfBatchSystem, tools
from wnod_lsf.notes import Notes
from wnod_lsf.options import LsfOptions


@pytest.fixture(scope="session")
def lsf_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("lsf") / "bin")


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path / "lsf-state.json")


class Clock:
    """A monotonic clock that moves only when the adapter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_lsf(lsf_bin: Path, cluster: Cluster, tmp_path: Path, clock: Clock) -> Callable[..., LsfBatchSystem]:
    """``make_lsf(app_prefix="vm-", ...)``: the adapter over the emulated cluster, with those options."""

    def make(**options: Any) -> LsfBatchSystem:
        opts = LsfOptions(bin_dir=str(lsf_bin), **options)
        runner = attrs.evolve(tools(opts), environ=environ(cluster.path))
        return LsfBatchSystem(
            opts, Notes(tmp_path / "state" / "lsf"), runner=runner, accounts=fake_accounts,
            clock=clock, sleep=clock.sleep,
        )

    return make


@pytest.fixture
def lsf(make_lsf: Callable[..., LsfBatchSystem]) -> LsfBatchSystem:
    return make_lsf()
