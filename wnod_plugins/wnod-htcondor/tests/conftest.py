"""Fixtures of the wnod-htcondor tests: HTCondor's tools emulated in a temporary bin directory.

Test modules use these as fixtures only: with ``--import-mode=importlib`` nothing here
can be imported. The emulator (``emulator/condor_emu.py``) is a test tool, not shipped.
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.testing.contracts.batch import BatchDriver, HookCall, JobOwner

from wnod_htcondor.adapter import HTCondorBatchSystem
from wnod_htcondor.options import HTCondorOptions

EMULATOR = Path(__file__).parent / "emulator" / "condor_emu.py"
BAIT = "bait-1.emu.test"


def _load_emulator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wnod_htcondor_test_condor_emu", EMULATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def emu() -> ModuleType:
    """The emulator module: ``emu.Pool``, ``emu.expr``, ``emu.TOOLS``."""
    return _load_emulator()


@pytest.fixture
def condor_bin(tmp_path: Path, emu: ModuleType) -> Path:
    """A bin directory holding every emulated tool, as HTCondor's BIN would."""
    bin_dir = tmp_path / "condor-bin"
    bin_dir.mkdir()
    script = bin_dir / "condor_emu.py"
    script.write_text(f"#!{sys.executable}\n" + EMULATOR.read_text())
    script.chmod(0o755)
    for tool in emu.TOOLS:
        os.symlink(script.name, bin_dir / tool)
    return bin_dir


@pytest.fixture
def pool(condor_bin: Path, emu: ModuleType) -> Any:
    """The emulated pool behind the tools in ``condor_bin``."""
    return emu.Pool(condor_bin)


@pytest.fixture
def options(condor_bin: Path) -> HTCondorOptions:
    return HTCondorOptions(bin_dir=str(condor_bin), queue_attribute="JobFlavour", timeout=20)


@pytest.fixture
def batch_system(options: HTCondorOptions) -> HTCondorBatchSystem:
    return HTCondorBatchSystem(options)


class EmulatorDriver(BatchDriver):
    """The contract suite's hands on the emulated pool: users submit, startds join, the negotiator runs."""

    unknown_job_id = "987654321.0"

    def __init__(self, pool: Any, condor_bin: Path) -> None:
        self.pool = pool
        self.condor_bin = condor_bin

    def submit(self, owner: JobOwner) -> str:
        extra = {"AcctGroup": owner.groups[0]} if owner.groups else {}
        # No negotiation runs until start(): the job waits, as for a bait.
        return self.pool.submit(owner.user, JobFlavour=owner.queue, **extra)[0]

    def vwn_hostnames(self) -> tuple[str, str]:
        return ("vwn-1.emu.test", "vwn-2.emu.test")

    def register_host(self, hostname: str) -> None:
        # Joined "open to work", as the suite asks: WnodOpen = True in its configuration.
        self.pool.add_startd(hostname, "vwn", open_=True)

    def start(self, job_id: str) -> str:
        started = self.pool.negotiate(job_id)
        if job_id not in started:
            raise BatchSystemError(f"emulator: no slot matched job {job_id}")
        return started[job_id].partition("@")[2]

    def cancel(self, job_id: str) -> None:
        import subprocess

        subprocess.run([str(self.condor_bin / "condor_rm"), job_id], check=True, capture_output=True)

    def hook_call(self, job_id: str) -> HookCall:
        # The glue contrib/htcondor/wnod-prepare-job runs `wnod bait BAIT_HOST` with the job
        # ClassAd on stdin, in the environment the starter gives its hooks.
        environ = {"BATCH_SYSTEM": "HTCondor", "_CONDOR_SLOT": "slot1", "_CONDOR_SCRATCH_DIR": "/var/lib/condor/execute/dir_1"}
        cluster, proc = job_id.split(".")
        ad = f'MyType = "Job"\nClusterId = {cluster}\nProcId = {proc}\nOwner = "alice"\n'
        return HookCall(environ=environ, argv=(BAIT,), bait_host=BAIT, stdin=ad)


@pytest.fixture
def batch_driver(pool: Any, condor_bin: Path) -> EmulatorDriver:
    return EmulatorDriver(pool, condor_bin)
