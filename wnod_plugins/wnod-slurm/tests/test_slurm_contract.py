"""The core's batch-adapter contract, kept by the Slurm adapter against real Slurm daemons."""

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitSide
from wnod_core.testing import build_plugin
from wnod_core.testing.contracts import BatchDriver, BatchSystemContract, HookCall, JobOwner

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.testing import BAIT, BAIT_PARTITION, LocalSlurm

pytestmark = pytest.mark.slow


class RealSlurmDriver(BatchDriver):
    """Submits jobs as their owner that may begin only in an hour; VWNs join by starting their slurmd.

    Not held: a hold by the owner is the owner's business, which wnod's release leaves alone.
    """

    settle_timeout = 30.0

    def __init__(self, slurm: LocalSlurm):
        self.slurm = slurm
        self.jobs: list[str] = []
        self.nodes: list[str] = []

    def submit(self, owner: JobOwner) -> str:
        # It waits as jobs wait for a bait; no VWN serves its partition anyway.
        job_id = self.slurm.submit(owner.user, f"--partition={owner.queue}", "--begin=now+3600", held=False)
        self.jobs.append(job_id)
        return job_id

    def vwn_hostnames(self) -> Sequence[str]:
        return [self.slurm.take_vwn(), self.slurm.take_vwn()]

    def register_host(self, hostname: str) -> None:
        self.nodes.append(hostname)
        self.slurm.start_node(hostname)

    def start(self, job_id: str) -> str:
        self.slurm.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=False)
        deadline = time.monotonic() + self.settle_timeout
        while time.monotonic() < deadline:
            out = self.slurm.run(["squeue", "--all", "-h", "-j", job_id, "-o", "%T %N"]).stdout.split()
            if out and out[0] == "RUNNING":
                return out[1]
            time.sleep(0.3)
        raise BatchSystemError(f"job {job_id} did not start within {self.settle_timeout:g}s")

    def cancel(self, job_id: str) -> None:
        user = self.slurm.run(["squeue", "--all", "-h", "-j", job_id, "-o", "%u"]).stdout.strip()
        self.slurm.as_user(user, ["scancel", job_id])
        # Cancelled when Slurm says so, as the owner would see it.
        deadline = time.monotonic() + self.settle_timeout
        while time.monotonic() < deadline:
            state = self.slurm.run(["squeue", "--all", "-h", "-j", job_id, "-o", "%T"]).stdout.strip()
            if state in ("", "CANCELLED"):
                return
            time.sleep(0.2)

    def hook_call(self, job_id: str) -> HookCall:
        # What slurmd gives its Prolog (among others; see the env the real-Prolog test records).
        environ = {"SLURM_JOB_ID": job_id, "SLURMD_NODENAME": BAIT, "SLURM_JOB_PARTITION": BAIT_PARTITION,
                   "SLURM_JOB_USER": "daemon", "SLURM_SCRIPT_CONTEXT": "prolog_slurmd"}
        return HookCall(environ=environ, argv=(), bait_host=BAIT)

    def close(self) -> None:
        if self.jobs:
            self.slurm.run(["scancel", *self.jobs], check=False)
        for name in self.nodes:
            self.slurm.stop_node(name)


class TestSlurmContract(BatchSystemContract):
    @pytest.fixture
    def bait_side(self, record: Any) -> BaitSide:
        return record.bait

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="daemon", queue=BAIT_PARTITION, groups=("daemon",))

    @pytest.fixture
    def batch_system(self, adapter: SlurmBatchSystem) -> SlurmBatchSystem:
        return adapter

    @pytest.fixture
    def batch_driver(self, slurm: LocalSlurm) -> Iterator[RealSlurmDriver]:
        driver = RealSlurmDriver(slurm)
        yield driver
        driver.close()


class TestSlurmContractWithTextFacts(TestSlurmContract):
    """The same promises with job facts read from `scontrol show job -o` text (Slurm before 21.08)."""

    @pytest.fixture
    def batch_system(self, slurm: LocalSlurm, record: Any, tmp_path: Path) -> SlurmBatchSystem:
        options = {"slurm_conf": str(slurm.conf), "facts_source": "scontrol-text"}
        return build_plugin(record, options, {}, tmp_path, path="batch.slurm")
