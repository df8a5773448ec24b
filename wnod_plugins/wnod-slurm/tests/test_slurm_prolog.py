"""contrib/slurm/wnod-prolog, run by a real slurmd as the bait's Prolog.

`wnod bait` is played by a stub that waits for the test and exits with the code of the
outcome (the adapter acting meanwhile as the engine would), and once by the real `wnod`
command with no daemon to answer. Whatever the outcome, the bait is never drained.
"""

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import JobState

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.bait import EXIT_CODES
from wnod_slurm.testing import BAIT, PUBLISH, LocalSlurm, eventually, publish

USER = "daemon"
GLUE = Path(__file__).resolve().parents[3] / "contrib" / "slurm" / "wnod-prolog"
STUB = """#!/bin/sh
D={dir}/glue
{publish}
publish "$D/$SLURM_JOB_ID.env" /usr/bin/env
publish "$D/$SLURM_JOB_ID.args" echo "$@"
i=0
while [ ! -e "$D/$SLURM_JOB_ID.go" ] && [ $i -lt 1200 ]; do /bin/sleep 0.1; i=$((i+1)); done
exit "$(/bin/cat "$D/$SLURM_JOB_ID.go" 2>/dev/null || echo 1)"
"""


def install_glue(slurm: LocalSlurm, wnod: str, extra: str = "") -> None:
    glue = slurm.dir / "glue"
    settings = glue / "settings"
    text = GLUE.read_text().replace("SETTINGS=/etc/wnod/slurm-prolog.conf", f"SETTINGS={settings}", 1)
    (glue / "prolog").write_text(text)
    (glue / "prolog").chmod(0o755)
    settings.write_text(f"WNOD={wnod}\nexport SLURM_CONF={slurm.conf}\n{extra}")
    stub = glue / "wnod"
    stub.write_text(STUB.format(dir=slurm.dir, publish=PUBLISH))
    stub.chmod(0o755)


@pytest.fixture
def glue(slurm: LocalSlurm) -> Path:
    if not GLUE.is_file():
        pytest.skip(f"{GLUE} is not here (tests run outside the repository)")
    install_glue(slurm, str(slurm.dir / "glue" / "wnod"))
    return slurm.dir / "glue"


def through_glue(slurm: LocalSlurm, jobs: list[str]) -> str:
    """A job whose start on the bait runs the glue; returns once `wnod bait` (the stub) was called."""
    job_id = slurm.submit(USER)
    jobs.append(job_id)
    (slurm.dir / "glue" / job_id).touch()
    slurm.run(["scontrol", "release", job_id])
    eventually((slurm.dir / "glue" / f"{job_id}.args").exists, f"job {job_id}: the glue never called wnod bait")
    return job_id


def answer(slurm: LocalSlurm, job_id: str, outcome: BaitOutcome | int) -> None:
    code = outcome if isinstance(outcome, int) else EXIT_CODES[outcome]
    publish(slurm.dir / "glue" / f"{job_id}.go", str(code))


def accepting(adapter: SlurmBatchSystem, name: str) -> bool:
    return next(h for h in adapter.hosts() if h.name == name).accepting


@pytest.fixture
def after_each(slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str]) -> Any:
    yield
    for job_id in jobs:  # a stub left waiting would keep the bait busy
        go = slurm.dir / "glue" / f"{job_id}.go"
        if not go.exists():
            publish(go, "1")
    assert accepting(adapter, BAIT), "the glue drained the bait"


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("glue", "after_each")]


def test_the_glue_calls_wnod_bait_with_its_config_and_no_path(slurm: LocalSlurm, jobs: list[str]) -> None:
    job = through_glue(slurm, jobs)
    answer(slurm, job, BaitOutcome.RELEASED)
    assert (slurm.dir / "glue" / f"{job}.args").read_text().split() == ["bait"]
    env = (slurm.dir / "glue" / f"{job}.env").read_text()
    assert "WNOD_CONFIG=/etc/wnod/wnod.toml" in env and f"SLURM_JOB_ID={job}" in env
    assert f"SLURMD_NODENAME={BAIT}" in env


def test_released_runs_the_job_on_its_bait(slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str]) -> None:
    job = through_glue(slurm, jobs)
    adapter.release(job, "site policy")
    answer(slurm, job, BaitOutcome.RELEASED)
    eventually(lambda: slurm.ran_on(job) == BAIT, f"job {job} never ran on the bait")


def test_migrated_runs_the_job_on_its_vwn(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = slurm.take_vwn()
    vwns.append(vwn)
    made = time.time()
    adapter.close_host(vwn)
    slurm.start_node(vwn)
    eventually(lambda: adapter.host_ready(vwn, made), f"{vwn} never joined")
    job = through_glue(slurm, jobs)
    adapter.migrate(job, vwn)
    answer(slurm, job, BaitOutcome.MIGRATED)
    eventually(lambda: slurm.ran_on(job), f"job {job} never ran", timeout=40)
    assert slurm.ran_on(job) == vwn
    assert adapter.job_facts(job).exec_hosts == (vwn,)


@pytest.mark.parametrize("engine_failed_it", [True, False], ids=["failed-by-engine", "left-to-the-glue"])
def test_refused_ends_the_job(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], engine_failed_it: bool
) -> None:
    job = through_glue(slurm, jobs)
    if engine_failed_it:
        adapter.fail(job, "wnod: no VM type for this job")
    answer(slurm, job, BaitOutcome.REFUSED)
    eventually(lambda: adapter.job_facts(job).state is JobState.CANCELLED, f"job {job} not cancelled")
    assert not slurm.ran_on(job)


@pytest.mark.parametrize("code", [EXIT_CODES[BaitOutcome.RETRY], 1, 2], ids=["retry", "wnod-error", "usage"])
def test_retry_or_any_failure_of_wnod_puts_the_job_back_to_pending(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], code: int
) -> None:
    job = through_glue(slurm, jobs)
    answer(slurm, job, code)
    facts = eventually(lambda: (f := adapter.job_facts(job)).state is JobState.PENDING and f, f"job {job} not requeued")
    assert facts.queue == "short"
    assert not slurm.ran_on(job)


def test_the_real_wnod_with_no_daemon_puts_the_job_back(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], tmp_path: Path
) -> None:
    wnod = Path(sys.executable).with_name("wnod")
    if not wnod.is_file():
        wnod = Path(shutil.which("wnod") or "/nonexistent")
    if not wnod.is_file():
        pytest.skip("no wnod command next to this Python")
    config = slurm.dir / "glue" / "wnod.toml"
    config.write_text(
        '[host]\nname = "hv01"\nvcpus = 2\nmemory = "2GiB"\nmax_vwns = 1\n\n'
        '[vm_types.el9]\nimage = "el9.img"\nvcpus = 1\nmemory = "1GiB"\n\n'
        '[[resolvers]]\nuse = "default"\nvm_type = "el9"\n\n'
        f'[batch]\nsystem = "slurm"\n\n[batch.slurm]\nslurm_conf = "{slurm.conf}"\n'
    )
    install_glue(slurm, str(wnod), f"WNOD_CONFIG={config}\nWNOD_RUNTIME_DIR={slurm.dir / 'glue' / 'run'}\nTIMEOUT=1\n")
    job = slurm.submit(USER)
    jobs.append(job)
    (slurm.dir / "glue" / job).touch()
    slurm.run(["scontrol", "release", job])
    facts = eventually(
        lambda: (f := adapter.job_facts(job)).state is JobState.PENDING and f.reason == "BeginTime" and f,
        f"job {job} not put back to pending",
    )
    assert facts.queue == "short" and not slurm.ran_on(job)
