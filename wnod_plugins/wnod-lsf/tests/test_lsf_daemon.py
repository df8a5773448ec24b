"""The whole LSF path with the real daemon: a job dispatched to a bait, its queue PRE_EXEC (the
contrib glue) runs ``wnod bait``, the daemon boots a VWN, and the job ends up running there.

LSF is the emulator (its commands run as subprocesses of the daemon, as LSF's would); the
hypervisor is the shared fake of wnod_core.testing. What a real VWN does by itself, its LSF
daemons joining the cluster once it has booted, a thread of the test does here.
"""

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lsfemu import Cluster, environ
from lsfemu.driver import BAIT
from wnod_core.testing.fakes.shared import SharedFakeHypervisor
from wnod_core.testing.glue import installed_with_settings
from wnod_core.testing.requirements import missing_module, require

pytestmark = pytest.mark.slow

WNOD = Path(sys.executable).parent / "wnod"
PRE_EXEC = Path(__file__).resolve().parents[3] / "contrib" / "lsf" / "wnod-lsf-pre-exec"

CONFIG = """
[host]
name = "hv01.farm.test"
vcpus = 4
memory = "8GiB"
max_vwns = 2

[engine]
poll_interval = "50ms"

[batch]
system = "lsf"

[batch.lsf]
bin_dir = "{lsf_bin}"

[hypervisor]
backend = "shared-fake"

[hypervisor.shared-fake]
dir = "{fakes}"

[vm_types.el9]
image = "el9.img"
boot_timeout = "30s"

[vm_types.atlas]
image = "atlas.img"
boot_timeout = "30s"
# LSF shows no registration time: a guest restarted for a scratch reset counts as joined again only
# once LSF saw it gone (docs/lsf.md). Kept without a reset, reused by its owner (reuse_scope "user").
reuse = {{ scratch_reset = false }}

[[resolvers]]
use = "requested"
allow.atlas = {{ users = ["alice"] }}

[[resolvers]]
use = "default"
vm_type = "el9"
"""


class Farm:
    """One hypervisor host running ``wnod daemon`` over the emulated LSF cluster."""

    def __init__(self, tmp: Path, env: dict[str, str], cluster: Cluster, hypervisor: SharedFakeHypervisor):
        self.tmp, self.env, self.cluster, self.hypervisor = tmp, env, cluster, hypervisor
        self.daemon: subprocess.Popen[bytes] | None = None
        self.log = open(tmp / "daemon.log", "ab")
        self.stop = threading.Event()
        self.booting = threading.Thread(target=self._vwns_join_lsf, daemon=True)

    def start(self) -> None:
        self.daemon = subprocess.Popen([str(WNOD), "daemon"], env=self.env, stdout=self.log, stderr=self.log,
                                       stdin=subprocess.DEVNULL)
        wait_for(lambda: (self.tmp / "run" / "wnod.sock").exists(), 30, "the daemon's socket", self)
        self.booting.start()

    def _vwns_join_lsf(self) -> None:
        """What a booted VWN's LIM and sbatchd do: join the cluster under the VWN's host name."""
        while not self.stop.wait(0.1):
            hosts = self.cluster.read()["hosts"]
            for vwn_id in self.hypervisor.running():
                domain = self.hypervisor.domain(vwn_id)
                if domain is not None and domain.spec.hostname not in hosts:
                    self.cluster.add_host(domain.spec.hostname)

    def pre_exec(self, job: str) -> subprocess.CompletedProcess[str]:
        """The bait queue's PRE_EXEC, as LSF runs it on the bait for the job's dispatch there."""
        base, _, index = job.partition("[")
        # wnod bait gets only what the glue's settings give it: this farm's config and plugins.
        words = [f"{k}={v}" for k, v in sorted(self.env.items())
                 if k.startswith(("WNOD_", "XDG_", "PYTHON", "HOME", "VIRTUAL_ENV")) and not any(c.isspace() for c in v)]
        script = installed_with_settings(PRE_EXEC, self.tmp / "libexec", {
            "WNOD": str(WNOD), "WNOD_BAIT_MARKER": str(self.tmp / "lsf-bait"), "WNOD_LOG": str(self.tmp / "bait.log"),
            "WNOD_BAIT_ARGS": "--timeout 60", "WNOD_BAIT_ENV": " ".join(words),
        })
        env = {"PATH": "/bin:/usr/bin:/sbin:/usr/sbin", "LSB_JOBID": base, "LSB_JOBINDEX": index.rstrip("]") or "0",
               "LSB_HOSTS": BAIT, "LSB_MCPU_HOSTS": f"{BAIT} 1", "LSB_QUEUE": "short"}
        done = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=90,
                              cwd="/tmp", check=False)
        self.cluster.pre_exec_exited(job, done.returncode, BAIT)
        return done

    def vwn_states(self) -> list[str]:
        """The states of the VWNs in the daemon's records that are not destroyed."""
        db = self.tmp / "state" / "wnod.db"
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                rows = conn.execute("SELECT state FROM vwns WHERE state != 'destroyed'").fetchall()
        except sqlite3.OperationalError:
            return []
        return sorted(r[0] for r in rows)

    def job(self, key: str) -> dict:
        return self.cluster.read()["jobs"][key]

    def read_log(self) -> str:
        self.log.flush()
        bait = self.tmp / "bait.log"
        return (self.tmp / "daemon.log").read_text(errors="replace")[-3000:] + (
            "\n--- bait.log\n" + bait.read_text()[-2000:] if bait.exists() else "")

    def close(self) -> None:
        self.stop.set()
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(10)
        self.log.close()


def wait_for(condition: Callable[[], object], timeout: float, what: str, farm: Farm) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{farm.read_log()}")


@pytest.fixture
def farm(tmp_path: Path, lsf_bin: Path, cluster: Cluster, shared_fakes_dir: Path,
         shared_fakes_env: dict[str, str]) -> Iterator[Farm]:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    config = tmp_path / "wnod.toml"
    config.write_text(CONFIG.format(lsf_bin=lsf_bin, fakes=shared_fakes_dir))
    (tmp_path / "lsf-bait").touch()
    env = {
        **shared_fakes_env, **{k: v for k, v in environ(cluster.path).items() if k == "LSFEMU_STATE"},
        "WNOD_CONFIG": str(config), "WNOD_STATE_DIR": str(tmp_path / "state"),
        "WNOD_RUNTIME_DIR": str(tmp_path / "run"), "WNOD_CACHE_DIR": str(tmp_path / "cache"),
    }
    cluster.add_host(BAIT)
    f = Farm(tmp_path, env, cluster, SharedFakeHypervisor(shared_fakes_dir))
    try:
        f.start()
        yield f
    finally:
        f.close()


def test_a_job_on_a_bait_ends_up_running_on_its_vwn_and_the_next_one_reuses_it(farm: Farm, cluster: Cluster) -> None:
    (first,) = cluster.submit("alice", "short", app="wnod-atlas")
    cluster.dispatch(first, BAIT)
    done = farm.pre_exec(first)
    assert done.returncode == 2, farm.read_log()  # MIGRATED: back to LSF, which moved it already
    job = farm.job(first)
    assert job["stat"] == "RUN", farm.read_log()
    (vwn,) = set(job["exec"])
    assert vwn.startswith("hv01-vwn")
    assert cluster.read()["hosts"][vwn]["status"] == "closed_Adm"  # nobody else lands there
    (vwn_id,) = farm.hypervisor.running()
    assert farm.hypervisor.domain(vwn_id).spec.vm_type.name == "atlas"
    calls = [c[0] for c in cluster.read()["calls"] if c[0] in ("brequeue", "bmod", "bresume", "brun")]
    assert calls == ["brequeue", "bmod", "bresume", "brun"]

    cluster.finish(first)
    wait_for(lambda: farm.vwn_states() == ["idle"], 30, "the VWN cleaned and kept idle", farm)

    (second,) = cluster.submit("alice", "short", app="wnod-atlas")
    cluster.dispatch(second, BAIT)
    assert farm.pre_exec(second).returncode == 2, farm.read_log()
    assert set(farm.job(second)["exec"]) == {vwn}  # the same VWN, reused
    assert farm.hypervisor.running() == [vwn_id]


def test_a_job_asking_for_a_type_its_owner_may_not_use_exits_with_the_reason(farm: Farm, cluster: Cluster) -> None:
    (job,) = cluster.submit("bob", "short", app="wnod-atlas")
    cluster.dispatch(job, BAIT)
    assert farm.pre_exec(job).returncode == 99, farm.read_log()  # LSF: the job exits, no retry
    record = farm.job(job)
    assert record["stat"] == "EXIT"
    assert "atlas" in record["kill_reason"], record  # bkill -C: what bjobs -l and bhist -l show bob
    assert farm.hypervisor.running() == []
