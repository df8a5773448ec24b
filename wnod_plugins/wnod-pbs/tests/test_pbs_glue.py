"""contrib/pbs/prologue hands wnod bait what the adapter reads, and wnod bait's exit status back."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from wnod_core.interfaces import HookInput

from wnod_pbs.bait import BAIT_SIDE, PROLOGUE_EXIT, PROLOGUE_WNOD_FAILED

PROLOGUE = Path(__file__).resolve().parents[3] / "contrib" / "pbs" / "prologue"

pytestmark = pytest.mark.skipif(not PROLOGUE.exists(), reason="contrib/pbs is not beside this distribution")


def _fake_wnod(tmp_path: Path, code: int) -> Path:
    fake = tmp_path / "wnod"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho "$WNOD_PBS_BAIT_HOST" > {tmp_path}/host\nexit {code}\n')
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize("code", sorted(PROLOGUE_EXIT))
def test_the_prologue_passes_its_arguments_and_turns_wnod_baits_code_into_the_moms(tmp_path, code, build):
    conf = tmp_path / "pbs.conf"
    conf.write_text("PBS_SERVER=pbs\nPBS_MOM_NODE_NAME=bait-7\n")
    env = {"WNOD": str(_fake_wnod(tmp_path, code)), "PBS_CONF_FILE": str(conf), "PATH": ""}
    done = subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, check=False)
    assert done.returncode == PROLOGUE_EXIT[code]
    args = (tmp_path / "args").read_text().split()
    assert args == ["bait", "12.pbs", "alice", "atlas"]
    host = (tmp_path / "host").read_text().strip()
    request = BAIT_SIDE.read(HookInput(environ={"WNOD_PBS_BAIT_HOST": host}, argv=args[1:]))
    assert (request.job_id, request.bait_host) == ("12.pbs", "bait-7")


def test_on_torque_pbs_mshost_is_left_to_name_the_bait(tmp_path):
    env = {"WNOD": str(_fake_wnod(tmp_path, 0)), "PBS_MSHOST": "n3", "PATH": ""}
    subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, check=True)
    assert (tmp_path / "host").read_text().strip() == ""
    assert os.access(PROLOGUE, os.X_OK)


@pytest.mark.parametrize("code", [1, 2, 126, 127, 130])
def test_a_failure_of_wnod_itself_requeues_the_job_never_aborts_it(tmp_path, code):
    """wnod exits 1 on a wrong config or a crash: to the MOM a prologue's 1 would abort the job."""
    env = {"WNOD": str(_fake_wnod(tmp_path, code)), "PBS_MSHOST": "n3", "PATH": ""}
    done = subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == PROLOGUE_WNOD_FAILED
    assert f"wnod bait failed (exit {code})" in done.stderr


def test_the_real_wnod_with_a_broken_config_requeues_the_job(tmp_path):
    wnod = Path(sys.executable).parent / "wnod"
    config = tmp_path / "wnod.toml"
    config.write_text("[batch]\nsystem = 'pbs'\n[batch.pbs]\nno_such_option = 1\n")
    env = {"WNOD": str(wnod), "WNOD_CONFIG": str(config), "PBS_MSHOST": "n3", "PATH": ""}
    done = subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == PROLOGUE_WNOD_FAILED, done.stderr
    assert "no_such_option" in done.stderr


def test_without_wnod_the_job_is_requeued(tmp_path):
    env = {"WNOD": str(tmp_path / "absent"), "PBS_MSHOST": "n3", "PATH": ""}
    done = subprocess.run(["/bin/sh", str(PROLOGUE), "12.pbs", "alice", "atlas"], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == PROLOGUE_WNOD_FAILED
