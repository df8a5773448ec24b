"""The shared fakes: instances over one directory — in one process or several — see one state,
and that state survives a process killed with SIGKILL in the middle of its work."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, DomainState, HookInput, VwnSpec
from wnod_core.model import JobState, VmType
from wnod_core.testing.fakes import (
    BAIT_SIDE,
    EXIT_CODES,
    FakeBatchSystem,
    FakeHypervisor,
    SharedFakeBatchSystem,
    SharedFakeHypervisor,
    SqliteStore,
)
from wnod_core.testing.fakes.shared import DB_NAME
from wnod_core.testing.fakes.store import PLAIN

TIMEOUT = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def spec() -> VwnSpec:
    vm_type = VmType(
        name="alpha", image="alpha.img", memory="256MiB", scratch_size="64MiB", boot_timeout=90.5
    )
    return VwnSpec(vwn_id="wnod-1", vm_type=vm_type, host="hv-test", hostname="vwn-1")


def _python(code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=check,
    )


def test_they_are_the_fakes_with_their_state_in_a_file(shared_fakes_dir: Path) -> None:
    assert isinstance(SharedFakeBatchSystem(shared_fakes_dir), FakeBatchSystem)
    assert isinstance(SharedFakeHypervisor(shared_fakes_dir), FakeHypervisor)
    assert (shared_fakes_dir / DB_NAME).is_file()


def test_two_batch_systems_over_one_directory_are_one(shared_fakes_dir: Path) -> None:
    daemon, test = SharedFakeBatchSystem(shared_fakes_dir), SharedFakeBatchSystem(shared_fakes_dir)
    job = test.submit("alice", groups=("atlas",), queue="short", requested_vm_type="alpha")
    assert daemon.job_facts(job.job_id) == job
    assert job.batch_system == "shared-fake"
    assert test.submit("bob").job_id != job.job_id

    environ = test.dispatch_to_bait(job.job_id, "bait-1")
    request = BAIT_SIDE.read(HookInput(environ=environ))
    assert (request.job_id, request.bait_host) == (job.job_id, "bait-1")
    daemon.close_host("vwn-1")
    test.register_host("vwn-1")
    assert daemon.host_ready("vwn-1", 0.0) and test.is_closed("vwn-1")
    daemon.migrate(job.job_id, "vwn-1")
    assert test.bound_to(job.job_id) == "vwn-1"
    assert test.job(job.job_id).state is JobState.PENDING  # off the bait, waiting for its VWN
    test.bait_exited(job.job_id, EXIT_CODES[BaitOutcome.MIGRATED])
    assert test.start(job.job_id) == "vwn-1"
    assert [(h.name, h.jobs) for h in daemon.hosts()] == [("vwn-1", (job.job_id,))]
    test.finish(job.job_id)
    assert daemon.job_facts(job.job_id).state is JobState.FINISHED
    # The call log is each instance's own.
    assert [c.method for c in test.calls] == []
    assert "migrate" in [c.method for c in daemon.calls]


def test_two_hypervisors_over_one_directory_are_one(shared_fakes_dir: Path, spec: VwnSpec) -> None:
    daemon, test = SharedFakeHypervisor(shared_fakes_dir), SharedFakeHypervisor(shared_fakes_dir)
    daemon.create(spec)
    assert test.running() == ["wnod-1"]
    assert test.domain("wnod-1").spec == spec  # read back equal, durations and sizes exact
    test.crash("wnod-1")
    assert daemon.state("wnod-1") is DomainState.CRASHED
    daemon.reset_scratch("wnod-1")
    assert test.domain("wnod-1").scratch_resets == 1
    test.add_foreign("someone-elses")
    assert [d.vwn_id for d in daemon.domains()] == ["wnod-1"]
    daemon.destroy("someone-elses")
    assert test.foreign_domains() == {"someone-elses": DomainState.RUNNING}
    daemon.destroy("wnod-1")
    assert test.domain("wnod-1") is None


def test_the_shared_hypervisor_reports_no_events(shared_fakes_dir: Path) -> None:
    # Another process's changes could never reach this one's watchers: the engine must poll.
    assert SharedFakeHypervisor(shared_fakes_dir).watch(lambda event: None) is False


def test_directories_are_separate(tmp_path: Path) -> None:
    one, two = SharedFakeBatchSystem(tmp_path / "one"), SharedFakeBatchSystem(tmp_path / "two")
    job = one.submit("alice")
    assert two.job(job.job_id) is None


def test_auto_join_has_the_vwn_join_after_its_delay(shared_fakes_dir: Path, spec: VwnSpec) -> None:
    clock = Clock()
    hypervisor = SharedFakeHypervisor(shared_fakes_dir, auto_join=True, join_delay=30, clock=clock)
    batch = SharedFakeBatchSystem(shared_fakes_dir, clock=clock)
    batch.close_host("vwn-1")  # wnod closes a new VWN's name before it exists
    hypervisor.create(spec)
    assert not batch.host_ready("vwn-1", 0.0)
    clock.now += 29.9
    assert not batch.host_ready("vwn-1", 0.0) and batch.hosts() == []
    clock.now += 0.1
    assert batch.host_ready("vwn-1", 0.0)
    assert batch.is_closed("vwn-1")  # joining keeps the close
    restarted = clock.now
    hypervisor.reset_scratch("wnod-1")
    assert not batch.host_ready("vwn-1", restarted)  # a restarted guest's daemon registers anew, later
    clock.now += 30
    assert batch.host_ready("vwn-1", restarted)
    hypervisor.crash("wnod-1")
    assert "not responding" in batch.hosts()[0].state  # remembered for a while, as real ones do
    hypervisor.destroy("wnod-1")
    made = clock.now
    hypervisor.create(spec)
    assert not batch.host_ready("vwn-1", made), "the old registration is not the new VWN's"
    clock.now += 30
    assert batch.host_ready("vwn-1", made)
    hypervisor.destroy("wnod-1")
    clock.now += batch.remember_for
    assert not batch.host_ready("vwn-1", 0.0)


def test_without_auto_join_the_test_has_vwns_join(shared_fakes_dir: Path, spec: VwnSpec) -> None:
    SharedFakeHypervisor(shared_fakes_dir).create(spec)
    assert not SharedFakeBatchSystem(shared_fakes_dir).host_ready("vwn-1", 0.0)


def test_an_injected_failure_leaves_the_shared_state_untouched(shared_fakes_dir: Path) -> None:
    batch = SharedFakeBatchSystem(shared_fakes_dir)
    batch.register_host("vwn-1")
    batch.fail_next("close_host", BatchSystemError("injected"))
    with pytest.raises(BatchSystemError):
        batch.close_host("vwn-1")
    assert not SharedFakeBatchSystem(shared_fakes_dir).is_closed("vwn-1")


def test_a_rule_that_fails_half_way_changes_nothing(shared_fakes_dir: Path) -> None:
    store = SqliteStore(shared_fakes_dir / "store.sqlite")
    table = store.table("t", PLAIN)
    with pytest.raises(ZeroDivisionError), store.transaction():
        table["a"] = 1
        1 / 0  # noqa: B018
    assert "a" not in table
    with store.transaction(write=False), pytest.raises(RuntimeError, match="read-only"):
        table["a"] = 1


# -- across processes ------------------------------------------------------------------------------


def test_another_process_sees_the_state_and_changes_it(shared_fakes_dir: Path, spec: VwnSpec) -> None:
    batch = SharedFakeBatchSystem(shared_fakes_dir)
    hypervisor = SharedFakeHypervisor(shared_fakes_dir)
    job = batch.submit("alice")
    hypervisor.create(spec)
    done = _python(
        """
        import sys
        from wnod_core.testing.fakes import SharedFakeBatchSystem, SharedFakeHypervisor
        batch = SharedFakeBatchSystem(sys.argv[1])
        hypervisor = SharedFakeHypervisor(sys.argv[1])
        print(batch.job_facts(sys.argv[2]).user, hypervisor.running())
        batch.register_host("vwn-1")
        batch.start(sys.argv[2])
        hypervisor.power_off("wnod-1")
        """,
        str(shared_fakes_dir),
        job.job_id,
    )
    assert done.stdout.strip() == "alice ['wnod-1']"
    assert batch.job_facts(job.job_id).exec_hosts == ("vwn-1",)
    assert hypervisor.state("wnod-1") is DomainState.SHUTOFF


def test_processes_submitting_at_once_get_distinct_job_ids(shared_fakes_dir: Path) -> None:
    code = """
        import sys
        from wnod_core.testing.fakes import SharedFakeBatchSystem
        batch = SharedFakeBatchSystem(sys.argv[1])
        for _ in range(40):
            batch.submit(sys.argv[2])
        """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(shared_fakes_dir), f"user{n}"])
        for n in range(4)
    ]
    assert [p.wait(TIMEOUT) for p in procs] == [0, 0, 0, 0]
    batch = SharedFakeBatchSystem(shared_fakes_dir)
    ids = [r[0] for r in batch.store.execute("SELECT key FROM fake_state WHERE tbl = 'batch.jobs'")]
    assert len(ids) == len(set(ids)) == 160


def test_the_state_survives_a_sigkill_mid_work(shared_fakes_dir: Path) -> None:
    # A writer killed at a random moment leaves every committed change and no lock behind.
    code = """
        import sys
        from wnod_core.testing.fakes import SharedFakeBatchSystem
        batch = SharedFakeBatchSystem(sys.argv[1])
        n = 0
        while True:
            job = batch.submit("alice")
            batch.register_host(f"vwn-{n}")
            batch.start(job.job_id, f"vwn-{n}")
            print(job.job_id, flush=True)
            n += 1
        """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(shared_fakes_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    reported = [proc.stdout.readline().strip() for _ in range(20)]
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(TIMEOUT)
    proc.stdout.close()
    batch = SharedFakeBatchSystem(shared_fakes_dir)
    for job_id in reported:  # what it said it did is there, whole
        facts = batch.job_facts(job_id)
        assert facts.state is JobState.RUNNING and len(facts.exec_hosts) == 1
    batch.submit("bob")  # and the file is free to write
    hosts = {h.name: h.jobs for h in batch.hosts()}
    assert all(len(jobs) <= 1 for jobs in hosts.values())
