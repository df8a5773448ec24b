"""The PBS adapter keeps the core's BatchSystem contract, against the emulated OpenPBS and Torque."""

import pytest
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner


class TestPbsContract(BatchSystemContract):
    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas",))
