"""contrib/vwn/wnod-vwn-cleanup: at a job's end in a VWN, nothing of its owner is left running there.

Run as the batch systems' end-of-job hooks run it (as root, with LSF's or no PATH), against a real
daemonized process of another user.
"""

import subprocess
from pathlib import Path

import pytest

from wnod_core.testing.glue import installed

CLEANUP = Path(__file__).resolve().parents[2] / "contrib" / "vwn" / "wnod-vwn-cleanup"


def cleanup(tmp_path: Path, *args: str, settings: str = "") -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "vwn-cleanup.conf"
    conf.write_text(settings)
    script = installed(CLEANUP, tmp_path / "libexec", {"SETTINGS": str(conf)})
    return subprocess.run(["/bin/sh", str(script), *args], env={}, capture_output=True, text=True, timeout=30,
                          check=False)


def recorder(tmp_path: Path) -> Path:
    """A pkill that only writes down its arguments, in <tmp_path>/pkilled."""
    pkill = tmp_path / "pkill"
    pkill.write_text(f'#!/bin/sh\necho "$@" >>{tmp_path}/pkilled\n')
    pkill.chmod(0o755)
    return pkill


@pytest.mark.parametrize("by", ["uid", "name", "--all-users"])
def test_every_process_of_the_jobs_owner_is_killed(tmp_path: Path, leftover, by: str) -> None:
    uid, process = leftover
    # Only nobody's uid in range: --all-users must not reach the processes of this machine's other users.
    done = cleanup(tmp_path, {"uid": str(uid), "name": "nobody"}.get(by, by),
                   settings=f"MIN_UID={uid}\nMAX_UID={uid}\n")
    assert done.returncode == 0, done.stderr
    assert process.wait(10) == -9


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        pytest.param(("0",), "", id="root"),
        pytest.param(("root",), "", id="root-by-name"),
        pytest.param(("{uid}",), "MIN_UID={above}\n", id="below-MIN_UID"),
        pytest.param(("--all-users",), "MIN_UID={above}\n", id="all-users-below-MIN_UID"),
        pytest.param(("{uid}",), "", id="nobody-above-MAX_UID"),
        pytest.param(("--all-users",), "", id="all-users-nobody-above-MAX_UID"),
        pytest.param(("0",), "MIN_UID=0\n", id="MIN_UID-0-is-not-root"),
        pytest.param(("12; rm -rf /",), "", id="not-a-uid"),
        pytest.param(("nobody$(true)",), "", id="not-a-name"),
        pytest.param(("-U",), "", id="an-option"),
        pytest.param(("no-such-user-here",), "", id="unknown-user"),
        pytest.param((), "", id="nothing"),
        pytest.param(("99999999999999999999999",), "", id="huge"),
    ],
)
def test_anything_else_is_left_alone_and_it_always_exits_0(tmp_path: Path, leftover, args, settings) -> None:
    uid, process = leftover
    # pkill is a recorder here: were a guard missing, root's processes must not really be killed.
    pkill = recorder(tmp_path)
    args = tuple(a.format(uid=uid) for a in args)
    done = cleanup(tmp_path, *args, settings=settings.format(above=uid + 1) + f"PKILL={pkill}\nTRIES=2\n")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pkilled").exists(), (tmp_path / "pkilled").read_text()
    assert process.poll() is None, "a process that is not a VWN job's leftover was killed"


def test_the_recorder_would_see_a_kill(tmp_path: Path, leftover) -> None:
    """The test above can fail: the same recorder, for the owner's uid, is called."""
    uid, process = leftover
    pkill = recorder(tmp_path)
    assert cleanup(tmp_path, str(uid), settings=f"PKILL={pkill}\nTRIES=2\nMAX_UID={uid}\n").returncode == 0
    assert (tmp_path / "pkilled").read_text() == f"-KILL -U {uid}\n" * 2
