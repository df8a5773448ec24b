"""contrib/pbs/epilogue: after a job in a VWN, nothing of its owner is left running there.

Installed as a site installs it, next to contrib/vwn/wnod-vwn-cleanup, and run as the MOM runs
it (as root, without PATH, the job's id, user and group as arguments), against a real process of
another user that daemonized itself (the ``leftover`` fixture of wnod_core.testing).
"""

import pwd
import subprocess
import time
from pathlib import Path

import pytest
from wnod_core.testing.glue import installed

CONTRIB = Path(__file__).resolve().parents[3] / "contrib"

pytestmark = pytest.mark.skipif(not (CONTRIB / "pbs").exists(), reason="contrib/pbs is not beside this distribution")


def epilogue(tmp_path: Path, *args: str, vwn: bool = True) -> subprocess.CompletedProcess[str]:
    marker = tmp_path / "vwn"
    if vwn:
        marker.touch()
    libexec = tmp_path / "libexec"
    # nobody's uid is above the default MAX_UID: this test's leftover is let into range.
    conf = tmp_path / "cleanup.conf"
    conf.write_text("MAX_UID=65534\n")
    cleanup = installed(CONTRIB / "vwn" / "wnod-vwn-cleanup", libexec, {"SETTINGS": str(conf)})
    script = installed(CONTRIB / "pbs" / "epilogue", libexec,
                       {"SETTINGS": str(tmp_path / "none.conf"), "VWN_MARKER": str(marker), "CLEANUP": str(cleanup)})
    return subprocess.run(["/bin/sh", str(script), *args], env={"PATH": ""}, capture_output=True, text=True,
                          timeout=30, check=False)


def moms_arguments(user: str) -> tuple[str, ...]:
    return ("12.pbs", user, "nogroup", "job", "4242", "ncpus=1", "cput=00:00:01", "workq", "", "0")


def test_in_a_vwn_the_jobs_leftover_is_killed(tmp_path: Path, leftover) -> None:
    uid, process = leftover
    done = epilogue(tmp_path, *moms_arguments(pwd.getpwuid(uid).pw_name))
    assert done.returncode == 0, done.stderr
    assert process.wait(10) == -9


@pytest.mark.parametrize("where", ["on a bait", "without a user"])
def test_anywhere_else_it_does_nothing_and_exits_0(tmp_path: Path, leftover, where: str) -> None:
    uid, process = leftover
    user = pwd.getpwuid(uid).pw_name if where == "on a bait" else ""
    done = epilogue(tmp_path, *moms_arguments(user), vwn=where != "on a bait")
    assert done.returncode == 0, done.stderr
    time.sleep(0.3)
    assert process.poll() is None, "a process that is not a VWN job's leftover was killed"
