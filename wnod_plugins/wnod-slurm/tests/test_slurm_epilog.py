"""contrib/slurm/wnod-vwn-epilog: after a job in a VWN, nothing of its owner is left running there.

Installed as a site installs it, next to contrib/vwn/wnod-vwn-cleanup, and run as slurmd runs it
(as root, without PATH, with the job's SLURM_* variables), against a real process of another
user that daemonized itself (the ``leftover`` fixture of wnod_core.testing).
"""

import subprocess
import time
from pathlib import Path

import pytest
from wnod_core.testing.glue import installed

CONTRIB = Path(__file__).resolve().parents[3] / "contrib"


def epilog(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    libexec = tmp_path / "libexec"
    # nobody's uid is above the default MAX_UID: this test's leftover is let into range.
    conf = tmp_path / "cleanup.conf"
    conf.write_text("MAX_UID=65534\n")
    cleanup = installed(CONTRIB / "vwn" / "wnod-vwn-cleanup", libexec, {"SETTINGS": str(conf)})
    script = installed(CONTRIB / "slurm" / "wnod-vwn-epilog", libexec,
                       {"SETTINGS": str(tmp_path / "none.conf"), "CLEANUP": str(cleanup)})
    return subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_a_vwn_jobs_leftover_is_killed(tmp_path: Path, leftover) -> None:
    uid, process = leftover
    done = epilog(tmp_path, SLURM_JOB_ID="7", SLURM_JOB_PARTITION="wnod", SLURM_JOB_UID=str(uid))
    assert done.returncode == 0, done.stderr
    assert process.wait(10) == -9


@pytest.mark.parametrize(
    "env",
    [
        {"SLURM_JOB_PARTITION": "batch"},  # a job on a bait, or on any ordinary node
        {"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": "12; rm -rf /"},
        {"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": ""},  # slurmd gave none
    ],
)
def test_anything_else_is_left_alone_and_it_always_exits_0(tmp_path: Path, leftover, env: dict[str, str]) -> None:
    uid, process = leftover
    env = {"SLURM_JOB_ID": "7", "SLURM_JOB_UID": str(uid), **env}
    done = epilog(tmp_path, **env)
    assert done.returncode == 0, done.stderr
    time.sleep(0.3)
    assert process.poll() is None, "a process that is not a VWN job's leftover was killed"


def test_without_its_cleanup_installed_it_still_exits_0(tmp_path: Path, leftover) -> None:
    uid, process = leftover
    script = installed(CONTRIB / "slurm" / "wnod-vwn-epilog", tmp_path,
                       {"SETTINGS": str(tmp_path / "none.conf"), "CLEANUP": str(tmp_path / "absent")})
    done = subprocess.run(["/bin/sh", str(script)], env={"SLURM_JOB_PARTITION": "wnod", "SLURM_JOB_UID": str(uid)},
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert process.poll() is None
