"""The shared (file-backed) fakes keep the interfaces' contracts, like the in-memory ones and any plugin.

Each suite runs against an instance the test did not make its calls through: the
contract's driver (the batch system's users and daemons) works on a second instance over
the same directory, as a test drives the fakes a daemon process uses.
"""

from pathlib import Path

import pytest

from wnod_core.errors import HypervisorError
from wnod_core.interfaces import BaitSide, VwnSpec
from wnod_core.testing.contracts import (
    BatchSystemContract,
    FakeBatchDriver,
    ForeignDomain,
    HypervisorContract,
    JobOwner,
)
from wnod_core.testing.fakes import BAIT_SIDE, SharedFakeBatchSystem, SharedFakeHypervisor


class TestSharedFakeBatch(BatchSystemContract):
    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def batch_system(self, shared_fakes_dir: Path) -> SharedFakeBatchSystem:
        return SharedFakeBatchSystem(shared_fakes_dir)

    @pytest.fixture
    def batch_driver(self, shared_fakes_dir: Path) -> FakeBatchDriver:
        # Its own instance over the same directory, as a test process drives the daemon's.
        return FakeBatchDriver(SharedFakeBatchSystem(shared_fakes_dir))

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas", "users"))


class TestSharedFakeHypervisor(HypervisorContract):
    @pytest.fixture
    def hypervisor(self, shared_fakes_dir: Path) -> SharedFakeHypervisor:
        return SharedFakeHypervisor(shared_fakes_dir)

    @pytest.fixture
    def foreign_domain(self, shared_fakes_dir: Path) -> ForeignDomain:
        other = SharedFakeHypervisor(shared_fakes_dir)
        other.add_foreign("wnod-contract-foreign")
        return ForeignDomain(
            vwn_id="wnod-contract-foreign",
            present=lambda: "wnod-contract-foreign" in other.foreign_domains(),
        )

    @pytest.fixture
    def failing_spec(self, hypervisor: SharedFakeHypervisor, spec: VwnSpec) -> VwnSpec:
        hypervisor.fail_next("create", HypervisorError("fake: injected failure to start the domain"))
        return spec


class TestSharedFakeHypervisorJoining(HypervisorContract):
    """With auto_join the hypervisor still keeps its contract: joining is the batch system's business."""

    @pytest.fixture
    def hypervisor(self, shared_fakes_dir: Path) -> SharedFakeHypervisor:
        return SharedFakeHypervisor(shared_fakes_dir, auto_join=True, join_delay=0.5)
