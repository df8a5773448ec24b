"""The PBS adapter keeps the core's BatchSystem contract, against the emulated OpenPBS and Torque."""

import pytest
from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner

from wnod_pbs.bait import BAIT_SIDE


class TestPbsContract(BatchSystemContract):
    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas",))
