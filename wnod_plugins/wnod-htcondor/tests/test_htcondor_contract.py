"""The HTCondor adapter keeps the core's batch-system contract, against the emulated tools."""

import pytest
from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner

from wnod_htcondor.bait import BAIT_SIDE


class TestHTCondorContract(BatchSystemContract):
    """``batch_system`` and ``batch_driver`` come from conftest.py.

    HTCondor knows no unix groups: the group it reports is the job's accounting group.
    """

    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("group_atlas",))
