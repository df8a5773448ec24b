"""A job's way through LSF as wnod drives it: dispatched to a bait, taken off it, bound to its VWN.

The contract suite migrates jobs that still pend; here the job is where the engine meets it:
RUN on its bait while the bait queue's PRE_EXEC (``wnod bait``) waits for the answer.
"""

import time

import pytest
from lsfemu import Cluster
from lsfemu.driver import BAIT, calls
from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import JobState

from wnod_lsf.adapter import CLOSE_COMMENT, LsfBatchSystem
from wnod_lsf.bait import EXIT_CODES

VWN = "hv01-vwn1"


@pytest.fixture
def on_bait(cluster: Cluster) -> str:
    """A job of alice dispatched to the bait, its PRE_EXEC running; the VWN booted and closed."""
    cluster.add_host(BAIT)
    cluster.add_host(VWN)
    (job,) = cluster.submit("alice", "short")
    assert cluster.dispatch(job, BAIT) == BAIT
    return job


def actions(cluster: Cluster) -> list[list[str]]:
    """The commands that changed something (every command but bjobs and bhosts)."""
    return [c for c in calls(cluster) if c[0] not in ("bjobs", "bhosts")]


def test_migrate_takes_the_job_off_its_bait_held_then_binds_and_runs_it_on_its_vwn(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str
) -> None:
    lsf.close_host(VWN)
    lsf.migrate(on_bait, VWN)
    assert actions(cluster) == [
        ["badmin", "hclose", "-C", CLOSE_COMMENT, VWN],
        ["brequeue", "-r", "-H", on_bait],
        ["bmod", "-m", VWN, on_bait],
        ["bresume", on_bait],
        ["brun", "-m", VWN, on_bait],
    ]
    facts = lsf.job_facts(on_bait)
    assert (facts.state, facts.exec_hosts) == (JobState.RUNNING, (VWN,))


def test_migrate_waits_until_lsf_shows_the_job_off_its_bait(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str, clock
) -> None:
    cluster.set(requeue_lag=3)  # bjobs shows the job RUN on the bait three more times
    lsf.migrate(on_bait, VWN)
    assert clock.slept, "it polled"
    assert lsf.job_facts(on_bait).exec_hosts == (VWN,)


def test_migrate_gives_up_when_the_job_never_leaves_its_bait(
    make_lsf, cluster: Cluster, on_bait: str
) -> None:
    cluster.set(requeue_lag=10_000)
    lsf = make_lsf(settle_timeout=3)
    with pytest.raises(BatchSystemError, match="still RUN on bait01 3s after brequeue"):
        lsf.migrate(on_bait, VWN)


def test_the_bait_exit_after_a_migration_changes_nothing(lsf: LsfBatchSystem, cluster: Cluster, on_bait: str) -> None:
    lsf.migrate(on_bait, VWN)
    cluster.pre_exec_exited(on_bait, EXIT_CODES[BaitOutcome.MIGRATED], BAIT)  # killed already
    assert lsf.job_facts(on_bait).exec_hosts == (VWN,)


@pytest.mark.parametrize(
    ("outcome", "state", "on"),
    [
        (BaitOutcome.RELEASED, JobState.RUNNING, (BAIT,)),  # exit 0: runs where it is
        (BaitOutcome.RETRY, JobState.PENDING, ()),  # non-zero: back to PEND
        (BaitOutcome.REFUSED, JobState.FAILED, (BAIT,)),  # 99: the job exits (EXIT, where it was)
    ],
)
def test_each_exit_code_makes_lsf_do_what_its_outcome_means(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str, outcome: BaitOutcome, state: JobState, on: tuple
) -> None:
    cluster.pre_exec_exited(on_bait, EXIT_CODES[outcome], BAIT)
    facts = lsf.job_facts(on_bait)
    assert (facts.state, facts.exec_hosts) == (state, on)


def test_release_of_a_job_on_its_bait_leaves_it_to_the_baits_exit(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str
) -> None:
    lsf.release(on_bait, "wnod: the host is full")
    assert actions(cluster) == []
    assert lsf.job_facts(on_bait).exec_hosts == (BAIT,)
    assert "wnod: the host is full" in lsf.job_facts(on_bait).reason


def test_release_of_a_job_on_its_lost_vwn_requeues_and_unbinds_it(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str
) -> None:
    lsf.migrate(on_bait, VWN)
    before = len(actions(cluster))
    lsf.release(on_bait, "its VWN died; back to pending")
    assert actions(cluster)[before:] == [["brequeue", "-r", on_bait], ["bmod", "-mn", on_bait]]
    assert lsf.job_facts(on_bait).state is JobState.PENDING
    assert cluster.read()["jobs"][on_bait]["asked"] == []


def test_release_after_a_migrate_cut_short_lets_the_held_job_go(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str
) -> None:
    # The daemon died right after brequeue -H: the job is held and bound to nothing yet.
    lsf.notes.update_job(on_bait, bound_to=VWN, held=True)
    lsf._requeue(on_bait, hold=True)
    lsf.release(on_bait, "given back")
    job = cluster.read()["jobs"][on_bait]
    assert (job["stat"], job["asked"]) == ("PEND", [])


def test_hold_of_a_job_on_its_bait_takes_it_off_held(lsf: LsfBatchSystem, cluster: Cluster, on_bait: str) -> None:
    lsf.hold(on_bait, "wnod: no VWN could be made")
    facts = lsf.job_facts(on_bait)
    assert (facts.state, facts.exec_hosts) == (JobState.HELD, ())
    assert "wnod: no VWN could be made" in facts.reason


def test_hold_of_a_pending_job_stops_it_with_the_reason(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    (job,) = cluster.submit("alice", "short")
    lsf.hold(job, "why")
    assert actions(cluster) == [["bstop", "-C", "why", job]]


def test_fail_kills_with_the_reason_and_a_finished_job_stays_finished(
    lsf: LsfBatchSystem, cluster: Cluster, on_bait: str
) -> None:
    lsf.fail(on_bait, "wnod: alice may not run VM type cms")
    assert actions(cluster) == [["bkill", "-C", "wnod: alice may not run VM type cms", on_bait]]
    assert cluster.read()["jobs"][on_bait]["kill_reason"] == "wnod: alice may not run VM type cms"
    lsf.fail(on_bait, "again")
    assert len(actions(cluster)) == 1


def test_a_vwn_closed_before_it_joins_is_closed_when_it_joins(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    lsf.close_host("hv01-vwn9")  # LSF does not know the name yet
    assert lsf.host_ready("hv01-vwn9", 0.0) is False
    cluster.add_host("hv01-vwn9")  # it boots; its LIM and sbatchd join
    assert lsf.host_ready("hv01-vwn9", 0.0) is True
    assert cluster.read()["hosts"]["hv01-vwn9"]["status"] == "closed_Adm"
    (job,) = cluster.submit("bob", "short")
    with pytest.raises(Exception, match="no open host"):
        cluster.dispatch(job, "hv01-vwn9")


def test_opening_a_vwn_that_never_joined_forgets_the_close(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    lsf.close_host("hv01-vwn9")
    lsf.open_host("hv01-vwn9")
    cluster.add_host("hv01-vwn9")
    assert lsf.host_ready("hv01-vwn9", 0.0) is True
    assert cluster.read()["hosts"]["hv01-vwn9"]["status"] == "ok"


def test_a_declared_vwn_that_has_not_booted_is_not_ready(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    cluster.add_host(VWN, status="unavail")
    lsf.close_host(VWN)
    assert lsf.host_ready(VWN, 0.0) is False
    cluster.add_host(VWN)
    assert lsf.host_ready(VWN, 0.0) is True
    assert cluster.read()["hosts"][VWN]["status"] == "closed_Adm"


def test_an_earlier_vwns_registration_does_not_count_for_a_new_one(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    cluster.add_host(VWN)  # an earlier VWN of the name, destroyed: LSF has not noticed yet
    made = time.time()
    lsf.close_host(VWN)
    assert lsf.host_ready(VWN, made) is False, "LSF's ok is the earlier VWN's"
    cluster.add_host(VWN, status="unavail")  # LSF notices the earlier one is gone
    assert lsf.host_ready(VWN, made) is False
    cluster.add_host(VWN)  # the new VWN's daemons join
    assert lsf.host_ready(VWN, made) is True


def test_elements_of_a_job_array_are_jobs_of_their_own(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    cluster.add_host(BAIT)
    cluster.add_host(VWN)
    first, second, _third = cluster.submit("alice", "short", array=3)
    assert second.endswith("[2]")
    cluster.dispatch(second, BAIT)
    lsf.migrate(second, VWN)
    assert lsf.job_facts(second).exec_hosts == (VWN,)
    assert lsf.job_facts(first).state is JobState.PENDING
    assert ["brun", "-m", VWN, second] in calls(cluster)
    with pytest.raises(BatchSystemError, match="job array"):
        lsf.job_facts(second.split("[")[0])


def test_a_parallel_job_on_a_vwn_reads_as_on_that_host_once(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    cluster.add_host(VWN)
    (job,) = cluster.submit("alice", "short", slots=4)
    lsf.migrate(job, VWN)
    assert cluster.read()["jobs"][job]["exec"] == [VWN] * 4
    facts = lsf.job_facts(job)
    assert (facts.cpus, facts.exec_hosts) == (4, (VWN,))


def test_facts_carry_the_requested_vm_type_limits_and_the_owners_account(
    make_lsf, cluster: Cluster
) -> None:
    (job,) = cluster.submit("alice", "long", app="wnod-atlas", memlimit="4 Gbytes", runlimit="12:00:00")
    (plain,) = cluster.submit("bob", "long", app="fluent")
    lsf = make_lsf()
    facts = lsf.job_facts(job)
    assert (facts.user, facts.uid, facts.groups, facts.queue) == ("alice", 20001, ("atlas", "users"), "long")
    assert (facts.requested_vm_type, facts.memory, facts.walltime) == ("atlas", 4 * 2**30, 12 * 3600)
    assert lsf.job_facts(plain).requested_vm_type is None
    assert make_lsf(app_prefix="").job_facts(plain).requested_vm_type == "fluent"


def test_an_unknown_user_has_no_groups_rather_than_an_error(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    (job,) = cluster.submit("carol", "short")
    facts = lsf.job_facts(job)
    assert (facts.uid, facts.groups) == (None, ())


def test_a_job_lsf_forgot_raises_job_not_found_everywhere(lsf: LsfBatchSystem) -> None:
    for call in (lsf.job_facts, lambda j: lsf.migrate(j, VWN), lambda j: lsf.release(j, "x"),
                 lambda j: lsf.hold(j, "x"), lambda j: lsf.fail(j, "x")):
        with pytest.raises(JobNotFound):
            call("424242")
    with pytest.raises(JobNotFound):
        lsf.job_facts("not-an-lsf-id")


def test_hosts_lists_each_host_with_the_jobs_on_it(lsf: LsfBatchSystem, cluster: Cluster, on_bait: str) -> None:
    lsf.close_host(VWN)
    hosts = {h.name: h for h in lsf.hosts()}
    assert (hosts[BAIT].state, hosts[BAIT].accepting, hosts[BAIT].jobs) == ("ok", True, (on_bait,))
    assert (hosts[VWN].state, hosts[VWN].accepting, hosts[VWN].jobs) == ("closed_Adm", False, ())


def test_hosts_of_a_cluster_with_no_jobs(lsf: LsfBatchSystem, cluster: Cluster) -> None:
    cluster.add_host(BAIT)
    assert [(h.name, h.jobs) for h in lsf.hosts()] == [(BAIT, ())]


@pytest.mark.parametrize("job_id", ["..", "a/b", "123[x]", "-1", "１２３"])
def test_ids_no_lsf_job_has_are_unknown_jobs(lsf: LsfBatchSystem, job_id: str) -> None:
    with pytest.raises(JobNotFound):
        lsf.job_facts(job_id)
