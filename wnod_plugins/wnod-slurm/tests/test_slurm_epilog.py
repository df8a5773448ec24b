"""contrib/slurm/wnod-vwn-epilog: after a job in a VWN, nothing of its owner is left running there.

Run as slurmd runs it (as root, without PATH, with the job's SLURM_* variables), against real
processes of another user: one that became `nobody` and daemonized itself.
"""

import os
import pwd
import subprocess
import time
from pathlib import Path

import pytest

EPILOG = Path(__file__).resolve().parents[3] / "contrib" / "slurm" / "wnod-vwn-epilog"


@pytest.fixture
def leftover():
    """A process of `nobody`, daemonized as a job's leftover would be: (uid, pid)."""
    if os.geteuid() != 0:
        pytest.skip("a process of another user needs root")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody on this machine")

    def become() -> None:
        os.setsid()
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    process = subprocess.Popen(["sleep", "600"], preexec_fn=become, stdin=subprocess.DEVNULL)
    yield entry.pw_uid, process
    process.kill()
    process.wait(10)


def epilog(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", str(EPILOG)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_a_vwn_jobs_leftover_is_killed(leftover) -> None:
    uid, process = leftover
    done = epilog(SLURM_JOB_ID="7", SLURM_JOB_PARTITION="wnod", SLURM_JOB_UID=str(uid))
    assert done.returncode == 0, done.stderr
    assert process.wait(10) == -9


@pytest.mark.parametrize(
    "env",
    [
        {"SLURM_JOB_PARTITION": "batch"},  # a job on a bait, or on any ordinary node
        {"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": "0"},  # never root's: the node's own daemons
        {"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": "12; rm -rf /"},
        {"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": ""},  # slurmd gave none
    ],
)
def test_anything_else_is_left_alone_and_it_always_exits_0(leftover, env: dict[str, str]) -> None:
    uid, process = leftover
    env = {"SLURM_JOB_ID": "7", "SLURM_JOB_UID": str(uid), **env}
    done = epilog(**env)
    assert done.returncode == 0, done.stderr
    time.sleep(0.3)
    assert process.poll() is None, "a process that is not a VWN job's leftover was killed"
