"""The toyq adapter keeps the core's batch-system contract, over the emulated toyq."""

import pytest
from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts.batch import BatchSystemContract, JobOwner

from wnod_site_toyq.bait import BAIT_SIDE


class TestToyqContract(BatchSystemContract):
    """``batch_system`` and ``batch_driver`` come from conftest.py; the groups from its accounts."""

    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas", "users"))
