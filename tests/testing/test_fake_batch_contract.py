"""The fake batch system keeps the batch-system contract, like any adapter must."""

import pytest

from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts import BatchSystemContract, FakeBatchDriver, JobOwner
from wnod_core.testing.fakes import BAIT_SIDE, FakeBatchSystem


class TestFakeBatch(BatchSystemContract):
    @pytest.fixture
    def bait_side(self) -> BaitSide:
        return BAIT_SIDE

    @pytest.fixture
    def batch_system(self, fake_batch: FakeBatchSystem) -> FakeBatchSystem:
        return fake_batch

    @pytest.fixture
    def batch_driver(self, fake_batch: FakeBatchSystem) -> FakeBatchDriver:
        return FakeBatchDriver(fake_batch)

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short", groups=("atlas", "users"))
