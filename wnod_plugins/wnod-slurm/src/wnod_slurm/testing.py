"""A real single-host Slurm, for tests: munged, slurmctld and one slurmd per node.

Everything lives in one scratch directory (configuration, state, spool, logs, the
munge socket) and talks on 127.0.0.1 only, on ports free when it starts. Every
daemon is started in the foreground by this process and stopped by its PID.

Nodes: one bait ("bait1", partition "short", the default) and a pool of pre-declared
VWN nodes (partition "wnod", RootOnly and hidden) whose slurmd is started only when a
test has a VWN "join". Each VWN name serves one test, so no test sees a node another
one stopped. Tests that run a whole engine take a hypervisor host name (``take_host``) whose
two VWN slots' names are declared too.

The Prolog of every node is a test switch: for a job with a file ``catch/<id>`` the bait's
Prolog writes ``catch/<id>.bait``, waits until ``catch/<id>.go`` appears and exits with the
number in it, standing for ``wnod bait`` waiting for its daemon (it removes both as it exits,
so that each time the job comes to the bait it is held anew); with ``glue/<id>`` it runs ``glue/prolog`` (the real
contrib/slurm/wnod-prolog, set up by the test); any other job starts at once.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

BAIT = "bait1"
BAIT_PARTITION = "short"
VWN_PARTITION = "wnod"
VWN_POOL = 128
ENGINE_HOSTS = 8
"""Hypervisor hosts declared for tests that run a whole engine: ``hv1`` .. ``hv8``, each with the
VWN names ``hv<i>-vwn1`` and ``hv<i>-vwn2`` (the engine's default ``{host}-vwn{slot}``)."""
VWN_PARTITION_OPTIONS = "Hidden=YES"
"""Not RootOnly or AllowGroups: Slurm then refuses to run a user's job there at all."""
DAEMONS = ("munged", "slurmctld", "slurmd")
CRED_EXPIRE = 15
"""Seconds: Slurm's credential lifetime here, and so its requeue delay."""
SBIN = Path("/usr/sbin")


PUBLISH = r"""publish() {  # publish FILE COMMAND...: FILE appears whole, with COMMAND's output, or not at all
    f=$1; shift
    "$@" > "$f.$$.tmp" && /bin/mv -f "$f.$$.tmp" "$f"
}"""
"""For the test scripts that write a file a test waits for: the test may read it as soon as it
exists, so it is written under another name and renamed (see `publish`)."""

PROLOG = """#!/bin/sh
# Test switch (see wnod_slurm.testing): runs as root without PATH.
D={dir}
{publish}
[ "$SLURMD_NODENAME" = "{bait}" ] || exit 0
C="$D/catch/$SLURM_JOB_ID"
if [ -e "$C" ]; then
    /bin/rm -f "$C.go"  # an answer left from an earlier dispatch is not this one's
    publish "$C.bait" echo "$SLURMD_NODENAME"
    i=0
    while [ ! -e "$C.go" ] && [ $i -lt 1200 ]; do /bin/sleep 0.1; i=$((i+1)); done
    publish "$C.env" /usr/bin/env
    code=$(/bin/cat "$C.go" 2>/dev/null || echo 0)
    # Answered: the next dispatch of the job is held again, until its own answer.
    /bin/rm -f "$C.bait"
    /bin/mv -f "$C.go" "$C.went" 2>/dev/null
    exit "$code"
fi
publish "$D/catch/$SLURM_JOB_ID.bait" echo "$SLURMD_NODENAME"
[ -e "$D/glue/$SLURM_JOB_ID" ] && exec "$D/glue/prolog"
exit 0
"""


def publish(path: Path, text: str) -> None:
    """Write `path` whole under another name, then rename it: a script waiting for it to exist
    must never read it half written (an empty exit code, an empty environment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class SlurmUnavailable(Exception):
    """Slurm cannot run here; the message says precisely why."""


def why_unavailable() -> str | None:
    """None when a local Slurm can be started here; else the precise reason."""
    missing = [d for d in DAEMONS if not (SBIN / d).is_file()]
    missing += [c for c in ("sbatch", "squeue", "scontrol", "sinfo", "scancel") if not Path("/usr/bin", c).is_file()]
    if missing:
        return f"Slurm/munge not installed (missing {', '.join(missing)}); apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd and munged must be started as root (they switch users and run jobs as their owners)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (the munge package creates it)"
    if not Path("/etc/munge/munge.key").is_file():
        return "no /etc/munge/munge.key (the munge package creates it at install)"
    return None


def free_ports(count: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class LocalSlurm:
    def __init__(self, pool: int = VWN_POOL, bait_cpus: int = 1, vwn_cpus: int = 1, parameters: Sequence[str] = ()):
        """`bait_cpus`, `vwn_cpus`: the nodes' declared CPUs (more than this machine has makes a
        node smaller than declared, as a VWN sized below its host's most is); `parameters`: more
        slurm.conf lines."""
        self.bait_cpus, self.vwn_cpus = bait_cpus, vwn_cpus
        self.parameters = tuple(parameters)
        self.dir = Path(tempfile.mkdtemp(prefix="wnod-slurm-"))
        # munged (as user munge) must reach its socket's directory, and jobs run as other users.
        self.dir.chmod(0o755)
        self.conf = self.dir / "slurm.conf"
        self.pool = pool
        self.vwns = [f"vwn{i:03d}" for i in range(1, pool + 1)]
        self.engine_hosts = [f"hv{i}" for i in range(1, ENGINE_HOSTS + 1)]
        self.vwns += [f"{h}-vwn{slot}" for h in self.engine_hosts for slot in (1, 2)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.prolog = self.dir / "prolog"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._next_vwn = 0
        self._next_host = 0

    # -- configuration ---------------------------------------------------------------------------

    def write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        ctl_port, *node_ports = free_ports(2 + len(self.vwns))
        self.ports = dict(zip([BAIT, *self.vwns], node_ports, strict=True))
        d = self.dir
        for sub in ("state", "spool", "munge", "log", "catch", "glue", "out"):
            (d / sub).mkdir(exist_ok=True)
        (d / "out").chmod(0o1777)  # jobs write here as their owners
        self.prolog.write_text(PROLOG.format(dir=d, bait=BAIT, publish=PUBLISH))
        self.prolog.chmod(0o755)
        shutil.chown(d / "munge", "munge", "munge")
        (d / "munge").chmod(0o755)
        lines = [
            "ClusterName=wnodtest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ctl_port}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            # cred_expire is also how long a requeued job waits before it may start again (see
            # docs/slurm.md: the bait's slurmd would not run its Prolog again sooner): 120 s
            # by default, shortened so that tests of jobs given back to the bait wait less.
            f"AuthInfo=socket={d / 'munge' / 'munge.socket'},cred_expire={CRED_EXPIRE}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool'}/%n",
            f"SlurmctldPidFile={d / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'slurmd-%n.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'log' / 'slurmd-%n.log'}",
            "SlurmctldDebug=debug",
            "SlurmdDebug=debug",
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
            "TreeWidth=65533",  # as docs/slurm.md asks: no VWN relays pings to the dead VWN names
            "SlurmdTimeout=30",
            "MinJobAge=600",
            "KillWait=2",
            "MessageTimeout=5",
            "PrologEpilogTimeout=120",
        ]
        lines.append(f"Prolog={self.prolog}")
        lines += self.parameters
        for name, port in self.ports.items():
            lines.append(f"NodeName={name} NodeAddr=127.0.0.1 NodeHostname={host} Port={port}"
                         f" CPUs={self.bait_cpus if name == BAIT else self.vwn_cpus}"
                         " RealMemory=64")
        lines.append(f"PartitionName={BAIT_PARTITION} Nodes={BAIT} Default=YES MaxTime=INFINITE State=UP")
        lines += self.partition_lines()
        self.conf.write_text("\n".join(lines) + "\n")

    def partition_lines(self) -> list[str]:
        return [
            f"PartitionName={VWN_PARTITION} Nodes={','.join(self.vwns)} {VWN_PARTITION_OPTIONS}"
            " MaxTime=INFINITE State=UP"
        ]

    # -- daemons ---------------------------------------------------------------------------------

    def _spawn(self, key: str, argv: Sequence[str]) -> None:
        log = open(self.dir / "log" / f"{key}.out", "ab")  # noqa: SIM115 - kept for the child's life
        self.procs[key] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
            start_new_session=True,
        )
        log.close()

    def start(self, timeout: float = 30.0) -> None:
        self.write_conf()
        m = self.dir / "munge"
        self._spawn("munged", [
            "/usr/sbin/runuser", "-u", "munge", "--", str(SBIN / "munged"), "--foreground",
            f"--socket={m / 'munge.socket'}", f"--pid-file={m / 'munged.pid'}",
            f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}",
        ])
        self._wait(lambda: (m / "munge.socket").exists(), timeout, "munged socket")
        self.start_controller(timeout)
        self.start_node(BAIT)
        self.wait_node_up(BAIT, timeout)

    def start_controller(self, timeout: float = 30.0) -> None:
        """slurmctld, from the state it saved (its jobs, nodes and reservations) if it ran before."""
        self._spawn("slurmctld", [str(SBIN / "slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._wait(lambda: self.run(["scontrol", "ping"], check=False).returncode == 0, timeout, "slurmctld")

    def stop_controller(self) -> None:
        """Stop slurmctld as an admin's restart does (it saves its state); slurmds and jobs run on."""
        self._stop("slurmctld")

    def start_node(self, name: str) -> None:
        """Its slurmd starts, as a guest's does at boot. A guest booting again (a scratch reset
        restarts it) had its slurmd and job steps die first: so do they here, and no slurmd
        outlives its entry in ``procs`` (a second one started over it was left running)."""
        if f"slurmd-{name}" in self.procs:
            self.power_off(name)
        (self.dir / "spool" / name).mkdir(exist_ok=True)
        self._spawn(f"slurmd-{name}", [str(SBIN / "slurmd"), "-D", "-f", str(self.conf), "-N", name])

    def stop_node(self, name: str) -> None:
        """Stop its slurmd, drained and emptied first: Slurm would take it for up until its next
        ping, and a job step left running would outlive its slurmd."""
        if f"slurmd-{name}" not in self.procs:
            return
        self.run(["scontrol", "update", f"NodeName={name}", "State=DRAIN", "Reason=test over"], check=False)
        self.run(["scancel", f"--nodelist={name}"], check=False)
        deadline = time.monotonic() + 15
        while self.run(["squeue", "--all", "-h", f"--nodelist={name}"], check=False).stdout.strip():
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self._stop(f"slurmd-{name}")

    def kill_slurmd(self, name: str) -> None:
        """The VWN's batch daemon dies (SIGKILL, nothing drained): its jobs' steps run on, and
        slurmctld learns of it only when the node misses its pings (SlurmdTimeout)."""
        proc = self.procs.pop(f"slurmd-{name}", None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def power_off(self, name: str) -> None:
        """The VWN's guest is gone: its slurmd and every job step it started die at once."""
        self.kill_slurmd(name)
        _kill_trees(self._steps_of(name))  # the steps and their jobs: nothing of a dead guest lives on

    def _steps_of(self, name: str) -> list[int]:
        """slurmstepd processes of node `name`: those holding a socket in its spool directory
        (ps cannot tell which of this host's slurmds started a step)."""
        spool = f"{self.dir / 'spool' / name}/"
        inodes = set()
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[7].startswith(spool):
                inodes.add(f"socket:[{fields[6]}]")
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if not proc.name.isdigit() or (proc / "comm").read_text().strip() != "slurmstepd":
                    continue
                if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    def wait_node_up(self, name: str, timeout: float = 30.0) -> None:
        def up() -> bool:
            out = self.run(["sinfo", "-h", "-N", "-n", name, "-o", "%T"], check=False).stdout.strip()
            return bool(out) and not out.endswith("*") and not out.startswith(("down", "unknown"))

        self._wait(up, timeout, f"node {name} up")

    def take_vwn(self) -> str:
        """A VWN name no test has used yet."""
        if self._next_vwn >= self.pool:
            raise SlurmUnavailable(f"all {self.pool} VWN names are used: raise VWN_POOL")
        name = self.vwns[self._next_vwn]
        self._next_vwn += 1
        return name

    def take_host(self) -> str:
        """A hypervisor host name no test has used yet (see ENGINE_HOSTS)."""
        if self._next_host >= len(self.engine_hosts):
            raise SlurmUnavailable(f"all {len(self.engine_hosts)} host names are used: raise ENGINE_HOSTS")
        self._next_host += 1
        return self.engine_hosts[self._next_host - 1]

    def _stop(self, key: str, wait: float = 10.0) -> None:
        proc = self.procs.pop(key, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(wait)

    def stop(self) -> None:
        # Jobs first, while the slurmds can still end their steps; then the slurmds, the
        # controller and munged; then any job step that outlived its slurmd.
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            self.run(["scancel", "--full", "--user=root"], check=False, timeout=10)
            for user in {pwd.getpwuid(u).pw_name for u in self._job_uids()}:
                self.run(["scancel", "--full", f"--user={user}"], check=False, timeout=10)
            deadline = time.monotonic() + 15
            while self.run(["squeue", "--all", "-h", "-t", "R,CG,CF"], check=False).stdout.strip():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        for key in [k for k in self.procs if k.startswith("slurmd-")]:
            self._stop(key)
        self._stop("slurmctld")
        self._stop("munged")
        self._kill_orphan_steps()

    def _job_uids(self) -> set[int]:
        out = self.run(["squeue", "--all", "-h", "-o", "%U"], check=False).stdout
        return {int(w) for w in out.split() if w.isdigit()}

    def _kill_orphan_steps(self) -> None:
        """slurmstepd processes started by this Slurm's slurmds (found by their SLURM_CONF), and job
        scripts run from its spool (a step killed first leaves its job to init), with all theirs."""
        mark = f"SLURM_CONF={self.conf}".encode()
        spool = str(self.dir / "spool").encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() == "slurmstepd":
                    if mark in (proc / "environ").read_bytes().split(b"\0"):
                        found.append(int(proc.name))
                elif spool in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
        _kill_trees(found)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- commands --------------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], check: bool = True, env: Mapping[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, env={**self.env, **(env or {})}, timeout=timeout
        )
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
        return done

    def as_user(self, user: str, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command as `user`, as that user would from a login node."""
        return self.run(["/usr/bin/setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}",
                         "--init-groups", *argv], check=check)

    def submit(self, user: str, *options: str, command: str = "sleep 60", held: bool = True) -> str:
        """`sbatch` as `user`; the job writes the node it ran on to out/<id> first. Returns its id."""
        out = f"{self.dir}/out/$SLURM_JOB_ID"
        script = f'echo "$SLURMD_NODENAME" > {out}.tmp && mv {out}.tmp {out}; {command}'
        argv = ["sbatch", "--parsable", "--chdir=/tmp", "--output=/dev/null", *(["--hold"] if held else []),
                *options, "--wrap", script]
        return self.as_user(user, argv).stdout.strip().split(";")[0]

    def ran_on(self, job_id: str) -> str:
        path = self.dir / "out" / job_id
        return path.read_text().strip() if path.exists() else ""

    def log(self, name: str = "slurmctld.log") -> str:
        path = self.dir / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SlurmUnavailable(f"{what}: not there within {timeout:g}s")
            time.sleep(0.2)


# -- what the tests do with a job ------------------------------------------------------------------


def _kill_trees(pids: Sequence[int]) -> None:
    """SIGKILL `pids` and every process descended from them (found before any is killed, as a
    killed parent's children go to init)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                # The parent is the 4th field, after a command name that may hold spaces.
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    todo, seen = list(pids), set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    for pid in seen:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """`check()`'s first true answer, asked every quarter second; fails saying `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            assert answer, f"{what} (waited {timeout:g}s)"
            return answer
        time.sleep(0.25)


def caught_on_bait(
    slurm: LocalSlurm, jobs: list[str], *options: str, user: str = "daemon", command: str = "sleep 60"
) -> str:
    """A job submitted as `user`, dispatched to the bait, its Prolog held open (see ``catch``)."""
    job_id = slurm.submit(user, *options, command=command)
    jobs.append(job_id)
    (slurm.dir / "catch" / job_id).touch()
    slurm.run(["scontrol", "release", job_id])
    eventually((slurm.dir / "catch" / f"{job_id}.bait").exists, f"job {job_id} never reached the bait's Prolog")
    return job_id


def end_prolog(slurm: LocalSlurm, job_id: str, code: int = 0) -> None:
    """Let the bait's held Prolog of `job_id` exit with `code`, as the glue does with wnod bait's answer."""
    publish(slurm.dir / "catch" / f"{job_id}.go", str(code))

