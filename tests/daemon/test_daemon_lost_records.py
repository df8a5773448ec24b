"""A lost, truncated or other state file must never cost a running job its VWN.

Real `wnod daemon` processes with the shared fakes (test_daemon_kill's host): a job runs in
its VWN, the daemon is killed, its records go — then a new daemon starts.
"""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from wnod_core.interfaces import BaitOutcome, DomainState
from wnod_core.testing.fakes import EXIT_CODES

from .test_daemon_kill import Host, host, wait_for  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def running_job(host: Host) -> tuple[str, str]:
    """A job that runs in its VWN, and the daemon killed: (job id, VWN id)."""
    host.start_daemon()
    job = host.batch.submit("alice", groups=("physics",), queue="grid").job_id
    bait = host.bait(job)
    assert bait.wait(30) == EXIT_CODES[BaitOutcome.MIGRATED], bait.stderr.read()
    host.batch.start(job)
    wait_for(lambda: host.step_of(job) == "started", 20, "the job seen running", host)
    [(vwn_id, *_)] = host.alive_vwns()
    host.kill_daemon()
    return job, vwn_id


def lose(host: Host, how: str) -> None:
    db = host.tmp / "state" / "wnod.db"
    if how == "deleted":
        for path in (db, db.with_name("wnod.db-wal"), db.with_name("wnod.db-shm")):
            path.unlink(missing_ok=True)
    elif how == "truncated, its WAL kept":
        db.write_bytes(b"")
    elif how == "another state directory":
        host.env["WNOD_STATE_DIR"] = str(host.tmp / "elsewhere")


def start_and_end(host: Host, *args: str) -> tuple[int, str]:
    process = host.wnod("daemon", *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = process.communicate(timeout=60)
    return process.returncode, out.decode(errors="replace")


@pytest.mark.parametrize("how", ["deleted", "truncated, its WAL kept", "another state directory"])
def test_a_daemon_without_its_records_refuses_to_start_and_the_vwn_keeps_running(host: Host, how: str) -> None:
    job, vwn_id = running_job(host)
    lose(host, how)
    code, out = start_and_end(host)
    assert code == 3, out
    if how.startswith("truncated"):  # not opened at all, so that SQLite cannot discard the log
        assert "was truncated" in out and "--adopt" in out
        assert (host.tmp / "state" / "wnod.db").stat().st_size == 0
        assert (host.tmp / "state" / "wnod.db-wal").stat().st_size > 0, "the write-ahead log is kept"
    else:
        assert vwn_id in out and "--adopt" in out and "--reap-strays" in out
    [domain] = host.hypervisor.domains()
    assert (domain.vwn_id, domain.state) == (vwn_id, DomainState.RUNNING)
    assert host.batch.job_facts(job).exec_hosts == (domain.hostname,), "the job still runs in it"


def test_with_adopt_the_new_daemon_follows_the_job_to_its_end(host: Host) -> None:
    job, vwn_id = running_job(host)
    lose(host, "deleted")
    host.start_daemon("--adopt")
    wait_for(lambda: [v for v in host.alive_vwns() if v[0] == vwn_id and v[1] == "running"], 20,
             "the VWN adopted as running", host)
    time.sleep(0.3)  # some rounds: the VWN of a running job is left alone
    assert [d.vwn_id for d in host.hypervisor.domains()] == [vwn_id]
    host.batch.finish(job)
    wait_for(lambda: host.step_of(job) == "ended", 20, "the job's end", host)
    assert host.stop_daemon() == 0, host.read_log()


def test_with_reap_strays_the_admin_gets_what_they_asked_for(host: Host) -> None:
    _job, vwn_id = running_job(host)
    lose(host, "deleted")
    host.start_daemon("--reap-strays")
    wait_for(lambda: not host.hypervisor.domains(), 20, "the stray destroyed", host)
    assert "as the admin asked (--reap-strays)" in host.read_log()
    assert host.stop_daemon() == 0


def test_a_stop_that_comes_while_strays_are_reaped_waits_for_the_reaping_and_exits_cleanly(host: Host) -> None:
    """systemd's stop may come at any moment of the start; it must not cut a reconciliation in two."""
    _job, vwn_id = running_job(host)
    lose(host, "deleted")
    path = host.hypervisor.store.path
    fakes = sqlite3.connect(path, isolation_level=None)
    fakes.execute("BEGIN IMMEDIATE")  # the new daemon's first call to the hypervisor waits for this lock
    try:
        daemon = host.daemon = host.wnod("daemon", "--reap-strays", stdout=host.log, stderr=host.log)
        wait_for(lambda: uses(daemon.pid, path), 30, "the daemon reconciling with the hypervisor", host)
        time.sleep(0.3)
        daemon.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    finally:
        fakes.rollback()
        fakes.close()
    assert host.daemon.wait(30) == 0, host.read_log()
    assert not host.hypervisor.domains(), "the reaping the admin asked for was finished"
    log = host.read_log()
    assert "asked to stop while starting" in log and log.rstrip().endswith("stopped"), log


def uses(pid: int, path: Path) -> bool:
    """Whether process `pid` has the file at `path` open."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False
