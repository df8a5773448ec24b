"""The fake batch system keeps the batch-system contract, like any adapter must."""

from collections.abc import Sequence

import pytest

from wnod_core.interfaces import BaitSide
from wnod_core.testing.contracts import BatchDriver, BatchSystemContract, HookCall, JobOwner
from wnod_core.testing.fakes import BAIT_SIDE, FakeBatchSystem


class FakeBatchDriver(BatchDriver):
    """Drives the fake as the contract asks: jobs wait until `start`, hosts join on demand."""

    def __init__(self, fake: FakeBatchSystem):
        self.fake = fake

    def submit(self, owner: JobOwner) -> str:
        return self.fake.submit(owner.user, groups=owner.groups, queue=owner.queue).job_id

    def vwn_hostnames(self) -> Sequence[str]:
        return ("vwn-a", "vwn-b")

    def register_host(self, hostname: str) -> None:
        self.fake.register_host(hostname)

    def start(self, job_id: str) -> str:
        return self.fake.start(job_id)

    def cancel(self, job_id: str) -> None:
        self.fake.cancel(job_id)

    def hook_call(self, job_id: str) -> HookCall:
        return HookCall(environ=self.fake.hook_environ(job_id, "bait-1"), argv=(), bait_host="bait-1")


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
