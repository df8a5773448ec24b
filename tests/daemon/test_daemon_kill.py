"""The real daemon process, killed with SIGKILL at each step of a job's flow, then restarted.

The daemon runs as `wnod daemon` with the shared fakes (state in a SQLite file both
processes use) and the standard `default` resolver; `wnod bait` runs as the batch hook
would. After every kill and restart: the bait gets its answer, the job is bound to one
alive VWN of its type, no domain is left that no record explains, and the job's end
leaves the VWN idle.
"""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wnod_core.daemon.run import socket_answers
from wnod_core.interfaces import BaitOutcome
from wnod_core.testing.fakes import EXIT_CODES
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem, SharedFakeHypervisor
from wnod_core.testing.fakes.shared_plugin import shared_fakes_config
from wnod_core.testing.requirements import missing_module, require

pytestmark = pytest.mark.slow

WNOD = Path(sys.executable).parent / "wnod"

CONFIG = """
[host]
name = "hv01.farm.test"
vcpus = 4
memory = "8GiB"
max_vwns = 2

[engine]
poll_interval = "50ms"

{shared_fakes}

[vm_types.el9]
image = "el9.img"
boot_timeout = "20s"

[[resolvers]]
use = "default"
vm_type = "el9"
"""


@pytest.fixture
def host(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]):
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    config = tmp_path / "wnod.toml"
    config.write_text(CONFIG.format(shared_fakes=shared_fakes_config(shared_fakes_dir, auto_join=True, join_delay="400ms")))
    env = {
        **shared_fakes_env,
        "WNOD_STATE_DIR": str(tmp_path / "state"),
        "WNOD_RUNTIME_DIR": str(tmp_path / "run"),
        "WNOD_CACHE_DIR": str(tmp_path / "cache"),
    }
    h = Host(config, env, tmp_path, SharedFakeBatchSystem(shared_fakes_dir), SharedFakeHypervisor(shared_fakes_dir))
    yield h
    h.stop_all()


class Host:
    def __init__(self, config: Path, env: dict[str, str], tmp: Path, batch, hypervisor):
        self.config, self.env, self.tmp = config, env, tmp
        self.batch, self.hypervisor = batch, hypervisor
        self.daemon: subprocess.Popen | None = None
        self.baits: list[subprocess.Popen] = []
        self.log = open(tmp / "daemon.log", "ab")

    def wnod(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen([str(WNOD), "--config", str(self.config), *args], env={**self.env, **kw.pop("env", {})},
                                stdin=subprocess.DEVNULL, **kw)

    def start_daemon(self, *args: str) -> None:
        self.daemon = self.wnod("daemon", *args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        # A socket that answers: a killed daemon leaves its socket file behind.
        while not socket_answers(self.tmp / "run" / "wnod.sock"):
            assert self.daemon.poll() is None, self.read_log()
            assert time.monotonic() < deadline, self.read_log()
            time.sleep(0.05)

    def kill_daemon(self) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait(10)

    def stop_daemon(self) -> int:
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGTERM)
        return self.daemon.wait(30)

    def bait(self, job_id: str) -> subprocess.Popen:
        environ = self.batch.dispatch_to_bait(job_id, "bait01")
        process = self.wnod("bait", "--timeout", "60", env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.baits.append(process)
        return process

    def records(self, sql: str) -> list[tuple]:
        db = self.tmp / "state" / "wnod.db"
        if not db.exists():
            return []
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []  # not created yet

    def step_of(self, job_id: str) -> str | None:
        rows = self.records(f"SELECT step FROM jobs WHERE job_id = '{job_id}'")
        return rows[0][0] if rows else None

    def alive_vwns(self) -> list[tuple]:
        return self.records("SELECT id, state, job_id, hostname FROM vwns WHERE state != 'destroyed'")

    def read_log(self) -> str:
        self.log.flush()
        return (self.tmp / "daemon.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for process in [*self.baits, self.daemon]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        self.log.close()


def wait_for(condition, timeout: float, what: str, host: Host):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}\n{host.read_log()}")


@pytest.mark.parametrize(
    "kill_at", ["bait_sent", "bait_entered", "vwn_assigned", "migrated", "started", "ended"]
)
def test_the_daemon_killed_at_a_step_of_the_flow_loses_nothing(host: Host, kill_at: str) -> None:
    host.start_daemon()
    job = host.batch.submit("alice", groups=("physics",), queue="grid").job_id
    bait = host.bait(job)
    if kill_at == "bait_sent":
        time.sleep(0.05)  # the request is on its way, or just arrived
    elif kill_at in ("bait_entered", "vwn_assigned", "migrated"):
        order = ["bait_entered", "resolved", "vwn_assigned", "vwn_ready", "migrated"]
        wait_for(lambda: (host.step_of(job) or "") in order[order.index(kill_at):], 20, kill_at, host)
    else:
        assert bait.wait(30) == EXIT_CODES[BaitOutcome.MIGRATED], bait.stderr.read()
        host.batch.start(job)
        wait_for(lambda: host.step_of(job) == "started", 20, "the job seen running", host)
        if kill_at == "ended":
            host.batch.finish(job)
            time.sleep(0.03)  # the round that notices may be under way
    host.kill_daemon()
    host.start_daemon()

    if kill_at in ("bait_sent", "bait_entered", "vwn_assigned", "migrated"):
        code = bait.wait(60)
        assert code == EXIT_CODES[BaitOutcome.MIGRATED], bait.stderr.read().decode() + host.read_log()
        [(vwn_id, state, vwn_job, hostname)] = wait_for(
            lambda: [v for v in host.alive_vwns() if v[1] == "ready"], 20, "one READY VWN", host
        )
        assert vwn_job == job
        assert host.batch.bound_to(job) == hostname
        host.batch.start(job)
        wait_for(lambda: host.step_of(job) == "started", 20, "the job seen running", host)
    if kill_at != "ended":
        host.batch.finish(job)
    [(vwn_id, *_)] = wait_for(
        lambda: [v for v in host.alive_vwns() if v[1] == "idle"], 20, "the VWN idle after its job", host
    )
    assert host.step_of(job) == "ended"
    assert [d.vwn_id for d in host.hypervisor.domains()] == [vwn_id], "a domain no record explains"
    assert host.stop_daemon() == 0, host.read_log()
    assert not (host.tmp / "run" / "wnod.sock").exists()


def test_a_daemon_that_cannot_start_exits_3_saying_why(host: Host) -> None:
    host.config.write_text(host.config.read_text().replace('poll_interval = "50ms"', 'poll_interval = "50ms"\n')
                           + '\n[daemon]\nsocket = "/proc/no/such/dir/wnod.sock"\n')
    process = host.wnod("daemon", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 3
    assert b"cannot" in err and b"/proc/no/such/dir" in err


def test_sighup_reloads_the_configuration_of_the_running_daemon(host: Host) -> None:
    host.start_daemon()
    host.config.write_text(host.config.read_text() + '\n[vm_types.sl6]\nimage = "sl6.img"\n')
    host.daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in host.read_log(), 20, "the reload", host)
    host.config.write_text(host.config.read_text().replace('image = "sl6.img"', 'image = "no/slashes"'))
    host.daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in host.read_log(), 20, "the refused reload", host)
    assert host.daemon.poll() is None, "a wrong file must not stop the daemon"
    assert host.stop_daemon() == 0
