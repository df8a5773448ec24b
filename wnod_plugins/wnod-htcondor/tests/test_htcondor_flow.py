"""A job's way through HTCondor as the engine drives it: bait, a VWN closed before it exists,
migrate, and no other job on that VWN."""

from typing import Any

import pytest
from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import JobState

from wnod_htcondor.adapter import HTCondorBatchSystem
from wnod_htcondor.bait import HOOK_STATUS

BAIT = "bait-1.emu.test"
VWN = "vwn-7.emu.test"


@pytest.fixture
def farm(pool: Any) -> Any:
    """A bait with room for several jobs; every job goes there first."""
    pool.add_startd(BAIT, "bait", slots=4)
    return pool


def on_bait(pool: Any, job_id: str) -> None:
    assert pool.negotiate(job_id)[job_id].endswith(f"@{BAIT}")


def test_migrate_binds_the_job_to_its_vwn_only_and_keeps_other_jobs_off(
    farm: Any, batch_system: HTCondorBatchSystem
) -> None:
    job, other = farm.submit("alice", count=2)
    started = farm.negotiate()
    assert started[job].endswith(BAIT) and started[other].endswith(BAIT)

    batch_system.close_host(VWN)  # before the VWN exists, as the engine does
    farm.add_startd(VWN, "vwn")  # joins closed: WnodOpen = False in its configuration
    assert batch_system.host_ready(VWN, 0.0)
    assert not [h for h in batch_system.hosts() if h.name == VWN][0].accepting

    batch_system.migrate(job, VWN)
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == (BAIT,), "still in its bait's hook"

    # The hook answers for both jobs: the migrated one goes back to Idle, the other is
    # given back (retry) and waits for a bait again.
    farm.hook_answers(job, HOOK_STATUS[BaitOutcome.MIGRATED], "moved to VWN x")
    farm.hook_answers(other, HOOK_STATUS[BaitOutcome.RETRY], "host full")
    farm.remove_startd(BAIT)  # no bait left: only the VWN could take anything now
    started = farm.negotiate()
    assert started == {job: f"slot1@{VWN}"}, "the other job must not land on the VWN"
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == (VWN,)
    assert batch_system.job_facts(other).state is JobState.PENDING

    farm.complete(job)
    assert farm.negotiate() == {}, "a VWN whose job ended takes no other job"
    with pytest.raises(JobNotFound):
        batch_system.job_facts(job)


def test_a_job_bound_elsewhere_never_matches_this_vwn(farm: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = farm.submit("bob")
    farm.add_startd(VWN, "vwn", open_=True)  # even an open VWN
    farm.add_startd("vwn-8.emu.test", "vwn")
    batch_system.migrate(job, "vwn-8.emu.test")
    farm.remove_startd(BAIT)
    assert farm.negotiate() == {job: "slot1@vwn-8.emu.test"}


def test_a_release_whose_vacate_failed_vacates_again_when_retried(farm: Any, batch_system: HTCondorBatchSystem) -> None:
    """Reviewer's find: the binding was cleared before the vacate, so a retried release after a
    failed vacate found nothing to vacate and said done, the job still running on the VWN."""
    (job,) = farm.submit("alice")
    farm.add_startd(VWN, "vwn")
    batch_system.migrate(job, VWN)
    farm.remove_startd(BAIT)
    assert farm.negotiate() == {job: f"slot1@{VWN}"}
    farm.fault("condor_vacate_job", stderr="Failed to connect to local queue manager\n", code=1)
    with pytest.raises(BatchSystemError):
        batch_system.release(job, "wnod gave up on moving it to a VWN")
    farm.clear_faults()
    batch_system.release(job, "wnod gave up on moving it to a VWN")
    facts = batch_system.job_facts(job)
    assert VWN not in facts.exec_hosts and facts.state is JobState.PENDING, facts
    assert farm.job(job).get("WnodVwn") is None


def test_release_gives_the_job_its_own_requirements_back(farm: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = farm.submit("alice")
    own = farm.job(job)["Requirements"]
    batch_system.migrate(job, VWN)
    assert 'TARGET.Machine == "vwn-7.emu.test"' in farm.job(job)["Requirements"]["__expr__"]
    batch_system.release(job, "site policy")
    ad = farm.job(job)
    assert ad["Requirements"] == own
    assert ad.get("WnodVwn") is None and ad.get("WnodRequirements") is None
    assert farm.negotiate() == {job: f"slot1@{BAIT}"}, "it may run on the bait again"


def test_migrating_again_to_another_vwn_keeps_the_jobs_own_requirements(
    farm: Any, batch_system: HTCondorBatchSystem
) -> None:
    (job,) = farm.submit("alice")
    own = farm.job(job)["Requirements"]["__expr__"]
    batch_system.migrate(job, VWN)
    batch_system.migrate(job, "vwn-8.emu.test")
    requirements = farm.job(job)["Requirements"]["__expr__"]
    assert requirements == f'(TARGET.Machine == "vwn-8.emu.test") && ({own})'


def test_a_removed_running_job_reads_as_cancelled_with_its_reason_then_is_gone(
    farm: Any, batch_system: HTCondorBatchSystem
) -> None:
    (job,) = farm.submit("alice")
    on_bait(farm, job)
    batch_system.fail(job, "wnod: refused")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.CANCELLED and "wnod: refused (by user condor)" == facts.reason
    with pytest.raises(JobNotFound):
        batch_system.migrate(job, VWN)
    farm.shadow_exits(job)
    with pytest.raises(JobNotFound):
        batch_system.job_facts(job)


def test_a_hold_from_the_hook_shows_its_message(farm: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = farm.submit("alice")
    on_bait(farm, job)
    farm.hook_answers(job, HOOK_STATUS[BaitOutcome.REFUSED], "user alice may not run VM type atlas")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.HELD and "user alice may not run VM type atlas" in facts.reason
    batch_system.hold(job, "wnod: held")  # held by a hook, not by a user: held again with wnod's reason
    assert "wnod: held" in batch_system.job_facts(job).reason
    batch_system.release(job, "try again")
    assert batch_system.job_facts(job).state is JobState.PENDING


def test_facts_read_the_job_ad(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = pool.submit(
        "carol", AcctGroup="group_cms", JobFlavour="long", RequestCpus=8, RequestMemory=4096,
        AllowedExecuteDuration=7200, WnodVmType="cms-el9",
    )
    facts = batch_system.job_facts(job)
    assert (facts.user, facts.groups, facts.queue) == ("carol", ("group_cms",), "long")
    assert (facts.cpus, facts.memory, facts.walltime) == (8, 4096 * 1024 * 1024, 7200)
    assert facts.requested_vm_type == "cms-el9" and facts.batch_system == "htcondor"


def test_facts_of_a_job_with_defaults(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    # condor_submit leaves RequestMemory an expression when the user asks for no memory.
    (job,) = pool.submit("dave")
    facts = batch_system.job_facts(job)
    assert facts.memory is None and facts.walltime is None and facts.requested_vm_type is None
    assert facts.groups == () and facts.queue == "local" and facts.cpus == 1


def test_a_parallel_job_runs_on_several_hosts(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = pool.submit("erin", JobStatus=2, RemoteHost="slot1@a.emu.test",
                         RemoteHosts="slot1@a.emu.test,slot2@a.emu.test,slot1@b.emu.test")
    assert batch_system.job_facts(job).exec_hosts == ("a.emu.test", "b.emu.test")


@pytest.mark.parametrize(("status", "state"), [
    (1, JobState.PENDING), (2, JobState.RUNNING), (3, JobState.CANCELLED), (4, JobState.FINISHED),
    (5, JobState.HELD), (6, JobState.RUNNING), (7, JobState.SUSPENDED),
])
def test_every_job_status_code(pool: Any, batch_system: HTCondorBatchSystem, status: int, state: JobState) -> None:
    (job,) = pool.submit("frank", JobStatus=status)
    assert batch_system.job_facts(job).state is state


@pytest.mark.parametrize(("attributes", "state"), [
    ({"ExitCode": 0}, JobState.FINISHED), ({"ExitCode": 3}, JobState.FAILED),
    ({"ExitBySignal": True, "ExitCode": 0}, JobState.FAILED), ({}, JobState.FINISHED),
])
def test_a_completed_job_that_exited_badly_is_failed(pool: Any, batch_system: HTCondorBatchSystem,
                                                     attributes: dict, state: JobState) -> None:
    (job,) = pool.submit("frank", JobStatus=4, **attributes)
    assert batch_system.job_facts(job).state is state


def test_an_unknown_job_status_is_an_error(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = pool.submit("frank", JobStatus=9)
    with pytest.raises(BatchSystemError, match="JobStatus = 9"):
        batch_system.job_facts(job)


def test_open_and_close_flip_wnod_open_at_runtime(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    pool.add_startd(VWN, "vwn")
    batch_system.open_host(VWN)
    assert pool.slot(f"slot1@{VWN}")["WnodOpen"] is True
    batch_system.close_host(VWN)
    assert pool.slot(f"slot1@{VWN}")["WnodOpen"] is False
    calls = [c for c in pool.calls() if c[0] in ("condor_config_val", "condor_reconfig")]
    assert calls == [
        ["condor_config_val", "-name", VWN, "-startd", "-rset", "WnodOpen = True"],
        ["condor_reconfig", "-name", VWN, "-daemon", "startd"],
        ["condor_config_val", "-name", VWN, "-startd", "-rset", "WnodOpen = False"],
        ["condor_reconfig", "-name", VWN, "-daemon", "startd"],
    ]


def test_a_host_that_is_not_a_vwn_cannot_be_opened_or_closed(
    pool: Any, batch_system: HTCondorBatchSystem
) -> None:
    pool.add_startd(BAIT, "bait")
    for call in (batch_system.open_host, batch_system.close_host):
        with pytest.raises(BatchSystemError, match="not configured as a wnod VWN"):
            call(BAIT)


def test_opening_a_host_not_in_the_pool_says_so(batch_system: HTCondorBatchSystem) -> None:
    with pytest.raises(BatchSystemError, match="not in the pool"):
        batch_system.open_host(VWN)


def test_a_refused_runtime_setting_is_reported(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    pool.add_startd(VWN, "vwn", runtime_config=False)
    with pytest.raises(BatchSystemError, match="Attempt to set configuration"):
        batch_system.open_host(VWN)


def test_options_reach_every_command(pool: Any, condor_bin: Any) -> None:
    from wnod_htcondor.options import HTCondorOptions

    adapter = HTCondorBatchSystem(HTCondorOptions(bin_dir=str(condor_bin), pool="cm.emu.test:9618", schedd="s1"))
    (job,) = pool.submit("alice")
    adapter.job_facts(job)
    adapter.migrate(job, VWN)
    adapter.hold(job, "why")
    adapter.hosts()
    for call in pool.calls():
        assert call[call.index("-pool") + 1] == "cm.emu.test:9618", call
        if call[0] != "condor_status":
            assert call[call.index("-name") + 1] == "s1", call
