"""Fixtures of the wnod-slurm tests: a real Slurm on this host, the adapter wired to it.

The Slurm (munged, slurmctld, a bait slurmd; VWN slurmds as tests need them) is started
once per session in a scratch directory on 127.0.0.1 and stopped by PID at the end, even
when tests fail. Where Slurm cannot run the real-daemon tests are skipped with the reason;
under CI (which installs it from system-packages.txt and runs as root) they fail instead.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from wnod_core.plugins import Plugins
from wnod_core.testing import build_plugin
from wnod_core.testing.requirements import require

from wnod_slurm import plugin
from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.testing import LocalSlurm, SlurmUnavailable, publish, why_unavailable

USER = "daemon"
"""Jobs are submitted as this unprivileged user, present on every Debian system."""


@pytest.fixture(scope="session")
def slurm() -> Iterator[LocalSlurm]:
    with started() as cluster:
        yield cluster


@contextmanager
def started(**options: Any) -> Iterator[LocalSlurm]:
    """A LocalSlurm of `options` started (or the test failed with slurmctld's log), stopped by PID after."""
    require(why_unavailable() or "")
    cluster = LocalSlurm(**options)
    try:
        try:
            cluster.start()
        except (SlurmUnavailable, OSError, RuntimeError) as exc:
            tail = cluster.log()[-3000:]
            pytest.fail(f"local Slurm did not start: {exc}\nslurmctld.log ends:\n{tail}")
        yield cluster
    finally:
        cluster.stop()
        if not os.environ.get("WNOD_KEEP_SLURM_DIR"):
            cluster.cleanup()


@pytest.fixture
def record() -> Any:
    return Plugins.load(installed=False, extra=[("wnod-slurm", plugin)]).lookup("batch_systems", "slurm")


@pytest.fixture
def adapter(slurm: LocalSlurm, tmp_path: Path) -> SlurmBatchSystem:
    """The adapter, built from its options table as the core builds it."""
    return build_adapter(slurm, tmp_path)


def build_adapter(slurm: LocalSlurm, tmp_path: Path) -> SlurmBatchSystem:
    record = Plugins.load(installed=False, extra=[("wnod-slurm", plugin)]).lookup("batch_systems", "slurm")
    return build_plugin(record, {"slurm_conf": str(slurm.conf)}, {}, tmp_path, path="batch.slurm")


@pytest.fixture
def vwns(slurm: LocalSlurm) -> Iterator[list[str]]:
    """``vwns.append(slurm.take_vwn())``-style: VWN names this test joins; their slurmds stop after it."""
    names: list[str] = []
    yield names
    for name in names:
        slurm.stop_node(name)


@pytest.fixture
def jobs(slurm: LocalSlurm, vwns: list[str]) -> Iterator[list[str]]:
    """Ids of the jobs a test submits; cancelled after it (before its VWNs stop) so the bait is free."""
    ids: list[str] = []
    yield ids
    for job_id in ids:  # a test that failed midway may have left its job's Prolog waiting
        go = slurm.dir / "catch" / f"{job_id}.go"
        if not go.exists():
            publish(go, "0")
    if ids:
        slurm.run(["scancel", *ids], check=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault tests run last: they stop slurmctld and kill slurmds of the one Slurm every test
    here shares, and a restarted controller takes a while before it schedules promptly again (a
    migration test right after them once waited in vain for its job to start)."""
    faults = [item for item in items if item.path.name == "test_slurm_faults.py"]
    if faults:
        items[:] = [item for item in items if item.path.name != "test_slurm_faults.py"] + faults
