"""A job's way through real Slurm daemons: caught on its bait, migrated to its VWN, run there only.

The bait's Prolog is held open by the test (``catch``), standing for ``wnod bait`` waiting
for its daemon, while the adapter acts as the engine would.
"""

import time

import pytest
from wnod_core.errors import JobNotFound
from wnod_core.interfaces import BaitRequest, HookInput
from wnod_core.model import JobState

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.bait import BAIT_SIDE
from wnod_slurm.testing import BAIT, LocalSlurm, caught_on_bait, end_prolog, eventually

pytestmark = pytest.mark.slow

USER = "daemon"


def joined_vwn(slurm: LocalSlurm, adapter: SlurmBatchSystem, vwns: list[str]) -> str:
    """A VWN as the engine brings one up: closed before its slurmd exists, then joined."""
    name = slurm.take_vwn()
    vwns.append(name)
    made = time.time()
    adapter.close_host(name)
    assert adapter.host_ready(name, made) is False
    slurm.start_node(name)
    eventually(lambda: adapter.host_ready(name, made), f"{name} never joined")
    return name


def running_on(adapter: SlurmBatchSystem, job_id: str) -> tuple[str, ...]:
    facts = adapter.job_facts(job_id)
    return facts.exec_hosts if facts.state is JobState.RUNNING else ()


def accepting(adapter: SlurmBatchSystem, name: str) -> bool:
    return next(h for h in adapter.hosts() if h.name == name).accepting


def test_a_job_caught_on_its_bait_runs_on_its_vwn_only(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = joined_vwn(slurm, adapter, vwns)
    job = caught_on_bait(slurm, jobs)
    facts = adapter.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == (BAIT,) and facts.queue == "short"

    adapter.migrate(job, vwn)
    adapter.migrate(job, vwn)  # the bait asking again changes nothing
    end_prolog(slurm, job, 0)  # `wnod bait` answered "migrated": the glue exits 0

    started = time.monotonic()
    eventually(lambda: running_on(adapter, job) == (vwn,), f"job {job} never ran on {vwn}")
    # Slurm would have held the requeued job 120 s; the adapter lets it start at once.
    assert time.monotonic() - started < 25
    eventually(lambda: slurm.ran_on(job), f"job {job} wrote nothing")
    assert slurm.ran_on(job) == vwn, "the job's script ran on the bait"
    facts = adapter.job_facts(job)
    assert facts.queue == "short", "the job's own partition, not the VWN's"
    assert "migrated to VWN" in facts.reason
    assert accepting(adapter, BAIT), "the bait must never be drained"


def test_no_other_job_lands_on_a_vwn_bound_to_a_job(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = joined_vwn(slurm, adapter, vwns)
    bound = slurm.submit(USER)  # held: the VWN stays free while the others try
    jobs.append(bound)
    adapter.migrate(bound, vwn)
    own = slurm.submit(USER, "--partition=wnod", held=False)
    named = slurm.submit("root", "--partition=wnod", f"--nodelist={vwn}", held=False)
    jobs += [own, named]
    time.sleep(6)  # three scheduler passes
    for other in (own, named):
        assert vwn not in adapter.job_facts(other).exec_hosts, f"job {other} landed on {vwn}"
    assert adapter.job_facts(named).state is JobState.PENDING, "a job naming the VWN waits for it"
    slurm.run(["scontrol", "release", bound])
    eventually(lambda: running_on(adapter, bound) == (vwn,), f"job {bound} never ran on {vwn}")
    for other in (own, named):
        assert vwn not in adapter.job_facts(other).exec_hosts, f"job {other} landed on {vwn}"


def test_a_requeued_migrated_job_comes_back_to_its_vwn_and_release_unbinds_it(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = joined_vwn(slurm, adapter, vwns)
    job = caught_on_bait(slurm, jobs)
    adapter.migrate(job, vwn)
    end_prolog(slurm, job)
    eventually(lambda: running_on(adapter, job) == (vwn,), f"job {job} never ran on {vwn}")

    slurm.run(["scontrol", "requeue", job])  # an admin, or a node hiccup
    eventually(lambda: adapter.job_facts(job).state is JobState.PENDING, f"job {job} not requeued")
    slurm.run(["scontrol", "update", f"JobId={job}", "StartTime=now"])  # skip Slurm's requeue delay
    eventually(lambda: running_on(adapter, job) == (vwn,), f"job {job} never came back to {vwn}")

    adapter.release(job, "site policy: run outside a VWN")  # its VWN is going away
    facts = eventually(lambda: (f := adapter.job_facts(job)).state is JobState.PENDING and f, "not pending")
    assert facts.queue == "short" and "released: site policy" in facts.reason
    detail = slurm.run(["scontrol", "-o", "show", "job", job]).stdout
    assert "Partition=short" in detail and "ReqNodeList=(null)" in detail and "Reservation=" not in detail.replace(
        "Reservation=(null)", "")


def test_a_job_cancelled_while_its_vwn_boots_is_not_migrated_and_the_bait_stays_open(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = joined_vwn(slurm, adapter, vwns)
    job = caught_on_bait(slurm, jobs)
    slurm.as_user(USER, ["scancel", job])
    with pytest.raises(JobNotFound):
        adapter.migrate(job, vwn)
    end_prolog(slurm, job)
    eventually(lambda: adapter.job_facts(job).state is JobState.CANCELLED, f"job {job} not cancelled")
    assert not slurm.ran_on(job)
    assert accepting(adapter, BAIT)
    assert not accepting(adapter, vwn), "the VWN must stay closed"


def test_a_released_job_runs_on_its_bait(slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str]) -> None:
    job = caught_on_bait(slurm, jobs)
    adapter.release(job, "site policy: runs outside a VWN")
    end_prolog(slurm, job, 0)
    eventually(lambda: slurm.ran_on(job) == BAIT, f"job {job} never ran on the bait")
    assert "released: site policy" in adapter.job_facts(job).reason


def test_a_failed_job_ends_with_the_reason_its_owner_can_read(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str]
) -> None:
    job = caught_on_bait(slurm, jobs)
    reason = "wnod: user daemon may not run VM type atlas"
    adapter.fail(job, reason)
    end_prolog(slurm, job, 0)
    facts = eventually(lambda: (f := adapter.job_facts(job)).state.is_over and f, f"job {job} not over")
    assert facts.state is JobState.CANCELLED and reason in facts.reason
    assert reason in slurm.as_user(USER, ["scontrol", "show", "job", job]).stdout
    assert not slurm.ran_on(job)
    assert accepting(adapter, BAIT)


def test_the_bait_side_reads_the_real_prologs_environment(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str]
) -> None:
    job = caught_on_bait(slurm, jobs)
    end_prolog(slurm, job, 0)
    env_file = slurm.dir / "catch" / f"{job}.env"
    eventually(env_file.exists, "the Prolog wrote no environment")
    environ = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert "PATH" not in environ or environ["PATH"] in ("", "/bin:/usr/bin"), "Prologs run without a usable PATH"
    assert BAIT_SIDE.read(HookInput(environ=environ)) == BaitRequest(job_id=job, bait_host=BAIT)


def test_a_job_released_while_its_requeuehold_is_not_through_is_not_left_held(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    vwn = joined_vwn(slurm, adapter, vwns)
    job = caught_on_bait(slurm, jobs)
    # A migrate that took the job off its bait and then failed (the controller went away before
    # the bind): the requeue waits for the bait's Prolog, which waits for wnod's answer.
    slurm.run(["scontrol", "requeuehold", job])
    adapter.release(job, "could not move the job")
    end_prolog(slurm, job, 0)
    # Back to pending, not held: dispatched again (to the bait, the only node open to it).
    again = slurm.dir / "catch" / f"{job}.bait"
    eventually(again.exists, f"job {job} stayed {adapter.job_facts(job).state}, never dispatched again", timeout=60)
    # The requeue Slurm still owed may come after that dispatch: then the job is sent once more.
    # Either way it ends up running on its bait, never held, never on the VWN.
    eventually(lambda: adapter.job_facts(job).exec_hosts == (BAIT,) and adapter.job_facts(job).state is JobState.RUNNING,
               f"job {job} never ran again on its bait", timeout=60)
    assert vwn not in adapter.job_facts(job).exec_hosts


def test_a_vwn_booting_again_has_one_slurmd_and_none_outlives_the_test_cluster(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, vwns: list[str]
) -> None:
    # The fake hypervisor boots a guest again on a scratch reset: its slurmd starts anew. The
    # first one started over (its entry in procs overwritten) was left running after the run.
    name = joined_vwn(slurm, adapter, vwns)
    first = slurm.procs[f"slurmd-{name}"]
    slurm.start_node(name)
    second = slurm.procs[f"slurmd-{name}"]
    assert second is not first
    assert first.poll() is not None, "the first slurmd still runs beside the second"
    slurm.stop_node(name)
    assert second.poll() is not None


def test_a_job_submitted_with_no_requeue_is_not_movable_and_slurm_would_not_take_it_off_its_bait(
    slurm: LocalSlurm, adapter: SlurmBatchSystem, jobs: list[str], vwns: list[str]
) -> None:
    """What the engine refuses such a job for before booting a VWN: Slurm will not requeue it."""
    from wnod_core.errors import BatchSystemError

    vwn = joined_vwn(slurm, adapter, vwns)
    job = caught_on_bait(slurm, jobs, "--no-requeue")
    assert adapter.job_facts(job).movable is False
    with pytest.raises(BatchSystemError, match="presently disabled"):
        adapter.migrate(job, vwn)
    end_prolog(slurm, job, 0)
