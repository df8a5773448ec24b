"""contrib/pbs/prologue hands wnod bait what the adapter reads, and wnod bait's exit status back."""

import os
import subprocess
from pathlib import Path

import pytest

PROLOGUE = Path(__file__).resolve().parents[3] / "contrib" / "pbs" / "prologue"

pytestmark = pytest.mark.skipif(not PROLOGUE.exists(), reason="contrib/pbs is not beside this distribution")


def _fake_wnod(tmp_path: Path, code: int) -> Path:
    fake = tmp_path / "wnod"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho "$WNOD_PBS_BAIT_HOST" > {tmp_path}/host\nexit {code}\n')
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_the_prologue_passes_its_arguments_and_returns_wnod_baits_code(tmp_path, code, build):
    conf = tmp_path / "pbs.conf"
    conf.write_text("PBS_SERVER=pbs\nPBS_MOM_NODE_NAME=bait-7\n")
    env = {"WNOD": str(_fake_wnod(tmp_path, code)), "PBS_CONF_FILE": str(conf), "PATH": ""}
    done = subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, check=False)
    assert done.returncode == code
    args = (tmp_path / "args").read_text().split()
    assert args == ["bait", "12.pbs", "alice", "atlas"]
    host = (tmp_path / "host").read_text().strip()
    request = build({}).bait_request({"WNOD_PBS_BAIT_HOST": host}, args[1:])
    assert (request.job_id, request.bait_host) == ("12.pbs", "bait-7")


def test_on_torque_pbs_mshost_is_left_to_name_the_bait(tmp_path):
    env = {"WNOD": str(_fake_wnod(tmp_path, 0)), "PBS_MSHOST": "n3", "PATH": ""}
    subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, check=True)
    assert (tmp_path / "host").read_text().strip() == ""
    assert os.access(PROLOGUE, os.X_OK)
