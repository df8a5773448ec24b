"""A real VWN guest joins a real Slurm and runs a batch job.

The guest is built by ``contrib/e2e/build-image`` (a Debian bookworm root filesystem with
munged and slurmd, the Debian cloud kernel, a busybox initramfs), cached between runs in
``$WNOD_E2E_CACHE`` (default ``$XDG_CACHE_HOME/wnod/e2e``). This module starts a
single-host Slurm of its own (munged on its own socket with the host's munge key,
slurmctld on 127.0.0.1, no slurmd on the host) and boots the guest with QEMU directly
(TCG): the type's image as a read-only virtio disk, a blank sparse raw file as the
read-write scratch disk, user-mode networking with one forward from 127.0.0.1 to the
guest's slurmd. The VWN is pre-declared in slurm.conf with ``NodeAddr=127.0.0.1`` and
that port; the guest fetches slurm.conf from slurmctld (configless).

Every process is started in a session of its own and stopped by its PID, even on failure.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wnod_core.testing.requirements import missing_commands, missing_file, missing_root, require

pytestmark = pytest.mark.slow

BUILD_IMAGE = Path(__file__).resolve().parents[2] / "contrib" / "e2e" / "build-image"
NEEDED = ("qemu-system-x86_64", "slurmctld", "munged", "sbatch", "sinfo", "scontrol", "mmdebstrap",
          "e2fsck", "debugfs", "apt-get", "dpkg-deb", "runuser")
VWN = "vwn-e2e-001"
VM_TYPES = ("debian-base", "debian-science")
BOOT_TIMEOUT = 300.0
"""Seconds from QEMU's start to the node being idle in Slurm (measured here: ~25 s)."""


require(
    missing_root("munged and slurmctld switch users, mmdebstrap builds as root")
    or missing_commands(*NEEDED, hint="see contrib/e2e/system-packages.txt")
    or missing_file("/etc/munge/munge.key", "the munge package makes it at install"),
    module=True,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _wait(what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], str] = lambda: "") -> float:
    started = time.monotonic()
    while not check():
        problem = alive()
        if problem:
            raise AssertionError(f"waiting for {what}: {problem}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def guest_parts() -> dict:
    """The kernel, initramfs and both types' images, built now or taken from the cache."""
    started = time.monotonic()
    done = subprocess.run([str(BUILD_IMAGE), "--json", "kernel", *VM_TYPES], capture_output=True, text=True,
                          timeout=3000, check=False)
    assert done.returncode == 0, f"build-image failed:\n{done.stderr}"
    parts = json.loads(done.stdout)
    print(f"build-image: {time.monotonic() - started:.1f} s\n{done.stderr}")
    return parts


class Procs:
    """Processes of this test, each in a session of its own, stopped by PID."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, key: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.dir / f"{key}.out", "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env)
        self.procs[key] = proc
        return proc

    def dead(self, key: str) -> str:
        proc = self.procs[key]
        if proc.poll() is None:
            return ""
        return f"{key} exited with {proc.returncode}: {(self.dir / f'{key}.out').read_text(errors='replace')[-3000:]}"

    def stop(self, key: str, wait: float = 15.0) -> None:
        proc = self.procs.pop(key, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(wait)
        except ProcessLookupError:
            proc.wait(wait)

    def stop_all(self) -> None:
        for key in reversed(list(self.procs)):
            self.stop(key)


@pytest.fixture
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="wnod-e2e-", dir="/tmp"))
    d.chmod(0o755)  # munged, as user munge, reaches its socket's directory
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def procs(workdir: Path) -> Iterator[Procs]:
    p = Procs(workdir)
    try:
        yield p
    finally:
        p.stop_all()


def _slurm_conf(d: Path, ctl_port: int, vwn_port: int) -> str:
    host = socket.gethostname().split(".")[0]
    # The guest reads this same file (configless): Slurmd* paths are the guest's own, and
    # the guest starts its munged on the AuthInfo socket it is told on its command line.
    lines = [
        "ClusterName=wnode2e",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ctl_port}",
        "SlurmctldParameters=enable_configless",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={d / 'munge' / 'munge.socket'}",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={d / 'state'}",
        f"SlurmctldPidFile={d / 'slurmctld.pid'}",
        f"SlurmctldLogFile={d / 'slurmctld.log'}",
        "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmdPidFile=/run/slurmd.pid",
        "SlurmdLogFile=/var/log/slurm/slurmd.log",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "SchedulerType=sched/builtin",
        "JobCompType=jobcomp/none",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "MpiDefault=none",
        "ReturnToService=2",
        "SlurmdTimeout=300",
        "MessageTimeout=30",
        "MinJobAge=600",
        "KillWait=2",
        f"NodeName={VWN} NodeAddr=127.0.0.1 Port={vwn_port} CPUs=1 RealMemory=200",
        f"PartitionName=vwn Nodes={VWN} Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("vm_type", VM_TYPES)
def test_a_vwn_guest_joins_slurm_and_runs_a_job(vm_type: str, guest_parts: dict, procs: Procs, workdir: Path) -> None:
    kernel, image = guest_parts["kernel"], guest_parts[vm_type]
    base = Path(image["image"])
    d = workdir
    for sub in ("munge", "state"):
        (d / sub).mkdir()
    shutil.chown(d / "munge", "munge", "munge")
    ctl_port, vwn_port = _free_port(), _free_port()
    conf = d / "slurm.conf"
    conf.write_text(_slurm_conf(d, ctl_port, vwn_port))
    env = {**os.environ, "SLURM_CONF": str(conf)}

    def slurm(*argv: str, check: bool = True) -> str:
        done = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=60, check=False)
        assert not check or done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
        return done.stdout

    # The farm's Slurm: munged with the host's key (the one baked into the image), slurmctld.
    m = d / "munge"
    procs.spawn("munged", ["/usr/sbin/runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground",
                           f"--socket={m / 'munge.socket'}", f"--pid-file={m / 'munged.pid'}",
                           f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}"])
    _wait("munged", (m / "munge.socket").exists, 30, lambda: procs.dead("munged"))
    procs.spawn("slurmctld", ["/usr/sbin/slurmctld", "-D", "-i", "-f", str(conf)], env=env)
    _wait("slurmctld", lambda: subprocess.run(["scontrol", "ping"], env=env, capture_output=True).returncode == 0,
          60, lambda: procs.dead("slurmctld"))

    # The VWN: read-only base, blank sparse scratch (the guest formats it), one forward in.
    base_digest = image["sha256"]
    scratch = d / "scratch.raw"
    with scratch.open("wb") as f:
        f.truncate(512 << 20)
    console = d / "console.log"
    cmdline = " ".join([
        "console=ttyS0", "panic=-1", f"wnod.hostname={VWN}", f"wnod.slurmctld=10.0.2.2:{ctl_port}",
        f"wnod.munge_socket={m / 'munge.socket'}", "wnod.users=wnode2e-user:4242:4243,Bad:x",
    ])
    qemu = [
        "qemu-system-x86_64", "-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-m", "768", "-smp", "1",
        "-kernel", kernel["kernel"], "-initrd", kernel["initrd"], "-append", cmdline,
        "-drive", f"file={base},format=raw,if=virtio,readonly=on",
        "-drive", f"file={scratch},format=raw,if=virtio",
        "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{vwn_port}-:{vwn_port}",
        "-device", "virtio-net-pci,netdev=n0",
        "-serial", f"file:{console}", "-monitor", "none",
    ]
    booted = time.monotonic()
    procs.spawn("qemu", qemu)

    def console_text() -> str:
        return console.read_text(errors="replace") if console.exists() else ""

    def guest_trouble() -> str:
        if "WNOD-GUEST slurmd exited" in console_text():
            return "the guest's slurmd exited"
        return procs.dead("qemu") or procs.dead("slurmctld")

    def node_state() -> str:
        return slurm("sinfo", "-h", "-N", "-n", VWN, "-o", "%T", check=False).strip()

    try:
        _wait(f"{VWN} idle in Slurm", lambda: node_state() == "idle", BOOT_TIMEOUT, guest_trouble)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nconsole:\n{console_text()[-5000:]}\n"
                             f"slurmctld:\n{(d / 'slurmctld.log').read_text(errors='replace')[-3000:]}") from None
    boot_seconds = time.monotonic() - booted
    print(f"guest up in Slurm after {boot_seconds:.1f} s")
    assert f"WNOD-GUEST hostname={VWN}" in console_text()

    job_script = (
        "hostname; uname -r; cat /etc/wnod-vm-type;"
        " python3 -c 'import numpy; print(\"numpy\", numpy.__version__)' 2>/dev/null || echo 'numpy missing';"
        " getent passwd wnode2e-user; mount; touch /scratch/marker; sync"
    )
    out = slurm("sbatch", "--parsable", "-w", VWN, "--chdir=/scratch", "--output=/scratch/job.out",
                "--wrap", job_script)
    job = out.strip().split(";")[0]
    submitted = time.monotonic()

    def job_state() -> str:
        text = slurm("scontrol", "-o", "show", "job", job, check=False)
        return next((w.split("=", 1)[1] for w in text.split() if w.startswith("JobState=")), "")

    _wait(f"job {job} done", lambda: job_state() not in ("", "PENDING", "CONFIGURING", "RUNNING", "COMPLETING"),
          120, guest_trouble)
    print(f"job ran in {time.monotonic() - submitted:.1f} s")
    assert job_state() == "COMPLETED", slurm("scontrol", "show", "job", job)

    # Power the guest off (the job synced its files), then read its scratch disk from here.
    procs.stop("qemu")
    fsck = subprocess.run(["e2fsck", "-fy", str(scratch)], capture_output=True, text=True, check=False)
    assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr

    def scratch_file(name: str) -> str:
        done = subprocess.run(["debugfs", "-R", f"cat /{name}", str(scratch)], capture_output=True, text=True,
                              check=False)
        return done.stdout

    output = scratch_file("job.out").splitlines()
    assert output[:3] == [VWN, kernel["release"], vm_type], output
    if vm_type == "debian-science":
        assert output[3].startswith("numpy 1."), output
    else:
        assert output[3] == "numpy missing", output
    assert output[4] == "wnode2e-user:x:4242:4243::/scratch:/bin/bash", output
    mounts = output[5:]
    assert any(line.startswith("/dev/vda on / ") and "(ro," in line for line in mounts), mounts
    assert any(line.startswith("/dev/vdb on /scratch ") and "(rw," in line for line in mounts), mounts
    listing = subprocess.run(["debugfs", "-R", "ls -l /", str(scratch)], capture_output=True, text=True).stdout
    assert " marker" in listing, listing
    assert _sha256(base) == base_digest, "the read-only base image changed"
