"""The LSF adapter keeps the core's batch-system contract, over the emulated LSF commands."""

import pytest
from lsfemu import Cluster
from lsfemu.driver import EmulatedLsf
from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner

from wnod_lsf.adapter import LsfBatchSystem
from wnod_lsf.bait import BAIT_SIDE


class TestDynamicVwnHosts(BatchSystemContract):
    """VWNs join LSF as dynamic hosts: LSF knows a VWN's name only once it has booted."""

    @pytest.fixture
    def batch_system(self, lsf: LsfBatchSystem) -> LsfBatchSystem:
        return lsf

    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def batch_driver(self, cluster: Cluster) -> EmulatedLsf:
        return EmulatedLsf(cluster)

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas", "users"))


class TestDeclaredVwnHosts(TestDynamicVwnHosts):
    """The VWN names are declared in lsf.cluster: LSF lists them, unavail, before they boot."""

    @pytest.fixture
    def batch_driver(self, cluster: Cluster) -> EmulatedLsf:
        return EmulatedLsf(cluster, declared=True)
