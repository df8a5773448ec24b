"""A bait request is checked against the batch system before anything is done for it.

Anyone who can reach the daemon can send one, naming any job and any bait. Only a job the
batch system has dispatched right now to the bait it names, and only a bait of this host
(``[host] baits``, when set), gets a VWN; any other request is answered with why, logged, and
leaves no record, no VWN and no call that acts on the job: a pending job is not pulled onto
a VWN, a job running on an ordinary node is not taken off it.
"""

import asyncio

import attrs

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome
from wnod_core.model.events import JobStep

ACTING = ("migrate", "release", "fail", "hold", "close_host", "open_host")
"""The batch system calls that change a job or a host."""


def untouched(host, job_id: str) -> None:
    assert host.engine.parts.store.job(job_id) is None, "a flight was recorded"
    assert not host.hypervisor.running(), "a VWN was made"
    acted = [c for c in host.batch.calls if c.method in ACTING]
    assert not acted, f"the batch system was acted on: {acted}"
    assert host.batch.bound_to(job_id) is None


def with_baits(host, *baits: str) -> None:
    host.policy = attrs.evolve(host.policy, baits=baits)
    host.new_engine()


def test_a_pending_job_never_dispatched_is_not_moved_to_a_vwn(host):
    job = host.batch.submit("alice", groups=("physics",), queue="blue").job_id
    answer = asyncio.run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY
    assert f"job {job} is not dispatched to bait bait01" in answer.reason and "pending" in answer.reason
    untouched(host, job)
    assert host.batch.job(job).state.value == "pending"


def test_a_job_running_on_an_ordinary_node_is_not_taken_off_it(host):
    host.batch.register_host("node7")
    job = host.batch.submit("alice", groups=("physics",), queue="blue").job_id
    host.batch.start(job, "node7")
    answer = asyncio.run(host.bait(job))  # names bait01, where the job is not
    assert answer.outcome is BaitOutcome.RETRY and "running on node7" in answer.reason
    untouched(host, job)
    assert host.batch.job(job).exec_hosts == ("node7",)


def test_a_request_naming_a_node_that_is_not_a_bait_of_this_host_is_refused(host):
    with_baits(host, "bait01")
    host.batch.register_host("node7")
    job = host.batch.submit("alice", groups=("physics",), queue="blue").job_id
    host.batch.start(job, "node7")
    # The job does run on the node the request names: but that node is no bait of this host.
    answer = asyncio.run(asyncio.wait_for(host.engine.bait(job, "node7"), 10))
    assert answer.outcome is BaitOutcome.RETRY
    assert "node7 is not a bait of this host" in answer.reason and "bait01" in answer.reason
    untouched(host, job)
    assert host.batch.job(job).exec_hosts == ("node7",)


def test_a_request_for_a_job_the_batch_system_does_not_know_is_refused(host):
    answer = asyncio.run(host.bait("4242"))
    assert answer.outcome is BaitOutcome.REFUSED and "does not know job 4242" in answer.reason
    untouched(host, "4242")


def test_a_batch_system_that_cannot_say_gets_the_job_back_untouched(host):
    job = host.submit("blue")
    host.batch.fail_next("job_facts", BatchSystemError("squeue: timed out"))
    answer = asyncio.run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY and "squeue: timed out" in answer.reason
    untouched(host, job)


def test_an_adapter_breaking_its_contract_while_the_job_is_checked_is_answered(host):
    job = host.submit("blue")
    host.batch.fail_next("job_facts", RuntimeError("fake: bug in the adapter"))
    answer = asyncio.run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY and "bug in the adapter" in answer.reason
    untouched(host, job)


def test_the_jobs_own_bait_of_this_host_gets_its_vwn(host):
    with_baits(host, "bait01", "bait02")
    job = host.submit("blue")
    answer = asyncio.run(host.bait(job))
    assert answer.outcome is BaitOutcome.MIGRATED, answer
    assert host.engine.parts.store.job(job).step is JobStep.MIGRATED
    assert host.batch.bound_to(job) == answer.hostname


def test_a_job_the_batch_system_runs_elsewhere_by_the_time_it_would_move_is_left_there(host):
    """Admitted on its bait, then run elsewhere before the migrate (an admin's `scontrol requeue`
    and a new dispatch): migrate acts on a job wherever it runs, so it is not called."""
    host.batch.register_host("node7")
    job = host.submit("blue")

    def moved(_args) -> None:
        host.batch.requeue(job)
        host.batch.start(job, "node7")

    remove = host.hypervisor.before("create", moved)
    answer = asyncio.run(host.bait(job))
    remove()
    assert answer.outcome is BaitOutcome.RELEASED and "runs it on node7" in answer.reason, answer
    assert not [c for c in host.batch.calls if c.method == "migrate"]
    assert host.batch.job(job).exec_hosts == ("node7",)
