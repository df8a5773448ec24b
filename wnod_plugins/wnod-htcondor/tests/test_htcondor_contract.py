"""The HTCondor adapter keeps the core's batch-system contract, against the emulated tools."""

import pytest
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner


class TestHTCondorContract(BatchSystemContract):
    """``batch_system`` and ``batch_driver`` come from conftest.py.

    HTCondor knows no unix groups: the group it reports is the job's accounting group.
    """

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("group_atlas",))
