"""The fake batch system behaves as its docstring says when a test drives it."""

import pytest

from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.interfaces import BaitOutcome, BaitRequest, BatchHost, HookInput
from wnod_core.model import JobFacts, JobState
from wnod_core.testing.fakes import BAIT_HOST_VAR, BAIT_SIDE, EXIT_CODES, JOB_ID_VAR, FakeBatchSystem


def test_submitted_jobs_get_fresh_ids_and_wait(fake_batch: FakeBatchSystem) -> None:
    first = fake_batch.submit("alice", groups=["atlas", "users"], queue="short", cpus=4)
    second = fake_batch.submit("bob")
    assert first.job_id != second.job_id
    assert first.state is JobState.PENDING and first.batch_system == "fake"
    assert fake_batch.job_facts(first.job_id) == first
    assert first.primary_group == "atlas" and first.cpus == 4


def test_an_unbound_job_starts_on_the_first_accepting_host(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    for name in ("vwn-b", "vwn-a", "vwn-c"):
        fake_batch.register_host(name)
    fake_batch.close_host("vwn-a")
    assert fake_batch.start(job.job_id) == "vwn-b"
    assert fake_batch.job_facts(job.job_id).exec_hosts == ("vwn-b",)


def test_a_bound_job_refuses_any_other_host(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.register_host("vwn-b")
    fake_batch.migrate(job.job_id, "vwn-b")
    with pytest.raises(BatchSystemError, match="bound to vwn-b"):
        fake_batch.start(job.job_id, "vwn-a")
    assert fake_batch.job_facts(job.job_id).state is JobState.PENDING


def test_a_closed_host_takes_only_the_job_bound_to_it(fake_batch: FakeBatchSystem) -> None:
    # wnod closes a VWN before migrating its job there: the job must still get in, no other.
    mine, other = fake_batch.submit("alice"), fake_batch.submit("bob")
    fake_batch.register_host("vwn-a")
    fake_batch.close_host("vwn-a")
    fake_batch.migrate(mine.job_id, "vwn-a")
    with pytest.raises(BatchSystemError, match="closed"):
        fake_batch.start(other.job_id, "vwn-a")
    assert fake_batch.start(mine.job_id) == "vwn-a"


def test_a_job_cannot_start_on_a_host_that_has_not_joined(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.migrate(job.job_id, "vwn-a")
    with pytest.raises(BatchSystemError, match="not joined"):
        fake_batch.start(job.job_id)
    fake_batch.register_host("vwn-a")
    assert fake_batch.start(job.job_id) == "vwn-a"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_host_that_stops_answering_is_remembered_then_its_job_requeued_still_bound() -> None:
    clock = Clock()
    batch = FakeBatchSystem(clock=clock)  # strict: remembers a silent host for 300 s, as Slurm does
    batch.register_host("vwn-a")
    job = batch.submit("alice").job_id
    batch.migrate(job, "vwn-a")
    batch.start(job)
    batch.unregister_host("vwn-a")
    clock.now += 299
    assert batch.host_ready("vwn-a", 0.0) is True, "still shown registered"
    assert batch.job_facts(job).state is JobState.RUNNING and [h.state for h in batch.hosts()] == [
        "busy (not responding)"]
    with pytest.raises(BatchSystemError, match="does not answer"):
        batch.start(batch.submit("bob").job_id, "vwn-a")
    clock.now += 1
    assert batch.host_ready("vwn-a", 0.0) is False and batch.hosts() == []
    assert batch.job_facts(job).state is JobState.PENDING
    assert batch.bound_to(job) == "vwn-a", "a requeue keeps the binding"


def test_a_kind_batch_system_forgets_a_silent_host_at_once() -> None:
    batch = FakeBatchSystem(remember_for=0)
    batch.register_host("vwn-a")
    batch.unregister_host("vwn-a")
    assert batch.host_ready("vwn-a", 0.0) is False and batch.hosts() == []


def test_a_registration_from_before_since_is_an_earlier_incarnations() -> None:
    clock = Clock()
    batch = FakeBatchSystem(clock=clock)
    batch.register_host("vwn-a")
    made = clock.now + 10  # a new VWN under the same name
    clock.now += 20
    assert batch.host_ready("vwn-a", made) is False
    batch.register_host("vwn-a")  # its own batch daemon registers
    assert batch.host_ready("vwn-a", made) is True


def test_registered_at_is_when_this_incarnation_joined() -> None:
    clock = Clock()
    batch = FakeBatchSystem(clock=clock, remember_for=0)
    assert batch.registered_at("vwn-a") is None
    batch.register_host("vwn-a", delay=5)
    assert batch.registered_at("vwn-a") is None, "not joined until its delay is over"
    clock.now += 5
    assert batch.registered_at("vwn-a") == clock.now
    batch.unregister_host("vwn-a")
    assert batch.registered_at("vwn-a") is None


def test_the_batch_system_requeues_a_started_job_keeping_its_binding(fake_batch: FakeBatchSystem) -> None:
    fake_batch.register_host("vwn-a")
    job = fake_batch.submit("alice").job_id
    fake_batch.migrate(job, "vwn-a")
    fake_batch.start(job)
    fake_batch.requeue(job)
    assert fake_batch.job_facts(job).state is JobState.PENDING and fake_batch.bound_to(job) == "vwn-a"


def test_a_close_made_before_joining_holds_after(fake_batch: FakeBatchSystem) -> None:
    fake_batch.close_host("vwn-a")
    fake_batch.register_host("vwn-a")
    assert fake_batch.hosts() == [BatchHost(name="vwn-a", state="closed", accepting=False)]


def test_hosts_show_what_runs_on_them(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.register_host("vwn-b")
    fake_batch.start(job.job_id, "vwn-a")
    assert fake_batch.hosts() == [
        BatchHost(name="vwn-a", state="busy", accepting=True, jobs=(job.job_id,)),
        BatchHost(name="vwn-b", state="idle", accepting=True),
    ]


def test_the_bait_flow_ends_with_the_job_on_its_vwn(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    environ = fake_batch.dispatch_to_bait(job.job_id, "bait-1")
    assert environ == {JOB_ID_VAR: job.job_id, BAIT_HOST_VAR: "bait-1"}
    assert fake_batch.job_facts(job.job_id).exec_hosts == ("bait-1",)
    assert BAIT_SIDE.read(HookInput(environ=environ)) == BaitRequest(job.job_id, "bait-1")
    fake_batch.register_host("vwn-a")
    fake_batch.migrate(job.job_id, "vwn-a")
    assert fake_batch.job_facts(job.job_id).state is JobState.PENDING
    fake_batch.bait_exited(job.job_id, BAIT_SIDE.answer(BaitOutcome.MIGRATED, "moved").exit_code)
    assert fake_batch.start(job.job_id) == "vwn-a"


@pytest.mark.parametrize(
    ("outcome", "state", "hosts"),
    [
        (BaitOutcome.RETRY, JobState.PENDING, ()),
        (BaitOutcome.MIGRATED, JobState.PENDING, ()),
        (BaitOutcome.RELEASED, JobState.RUNNING, ("bait-1",)),
        (BaitOutcome.REFUSED, JobState.FINISHED, ("bait-1",)),
    ],
)
def test_the_bait_hooks_exit_code_decides_what_becomes_of_the_job(
    fake_batch: FakeBatchSystem, outcome: BaitOutcome, state: JobState, hosts: tuple[str, ...]
) -> None:
    job = fake_batch.submit("alice")
    fake_batch.dispatch_to_bait(job.job_id, "bait-1")
    fake_batch.bait_exited(job.job_id, EXIT_CODES[outcome])
    facts = fake_batch.job_facts(job.job_id)
    assert (facts.state, facts.exec_hosts) == (state, hosts)


def test_a_refusal_keeps_the_reason_wnod_gave(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.dispatch_to_bait(job.job_id, "bait-1")
    fake_batch.fail(job.job_id, "no VM type for you")
    fake_batch.bait_exited(job.job_id, EXIT_CODES[BaitOutcome.REFUSED])
    assert fake_batch.job_facts(job.job_id).reason == "no VM type for you"


def test_an_exit_code_without_meaning_is_refused(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.dispatch_to_bait(job.job_id, "bait-1")
    with pytest.raises(BatchSystemError, match="exit code 77"):
        fake_batch.bait_exited(job.job_id, 77)


def test_only_pending_jobs_go_to_a_bait(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.hold(job.job_id, "admin says wait")
    with pytest.raises(BatchSystemError, match="held"):
        fake_batch.dispatch_to_bait(job.job_id, "bait-1")


def test_migrate_takes_a_job_off_wherever_it_runs_as_real_systems_do(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.start(job.job_id, "vwn-a")
    fake_batch.migrate(job.job_id, "vwn-a")  # where it runs: nothing to do
    assert fake_batch.job_facts(job.job_id).state is JobState.RUNNING
    fake_batch.migrate(job.job_id, "vwn-b")  # Slurm's requeuehold acts on a job on any node
    assert fake_batch.job_facts(job.job_id).state is JobState.PENDING and fake_batch.bound_to(job.job_id) == "vwn-b"


def test_a_running_job_cannot_be_held(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.start(job.job_id)
    with pytest.raises(BatchSystemError, match="running"):
        fake_batch.hold(job.job_id, "too late")


def test_release_lets_a_held_job_wait_again_and_drops_its_binding(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.migrate(job.job_id, "vwn-a")
    fake_batch.hold(job.job_id, "wnod: waiting")
    fake_batch.release(job.job_id, "wnod: run it normally")
    facts = fake_batch.job_facts(job.job_id)
    assert (facts.state, facts.reason) == (JobState.PENDING, "wnod: run it normally")
    assert fake_batch.bound_to(job.job_id) is None


def test_an_ended_job_is_known_until_purged(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.start(job.job_id)
    fake_batch.finish(job.job_id)
    assert fake_batch.job_facts(job.job_id).state is JobState.FINISHED
    with pytest.raises(JobNotFound):
        fake_batch.migrate(job.job_id, "vwn-a")
    fake_batch.purge(job.job_id)
    with pytest.raises(JobNotFound):
        fake_batch.job_facts(job.job_id)


def test_only_running_jobs_finish(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    with pytest.raises(BatchSystemError, match="pending"):
        fake_batch.finish(job.job_id)


def test_a_job_added_as_found_keeps_its_binding(fake_batch: FakeBatchSystem) -> None:
    facts = JobFacts(batch_system="other", job_id="77", user="carol", state=JobState.PENDING)
    fake_batch.add_job(facts, bound_to="vwn-a")
    assert fake_batch.job_facts("77").batch_system == "fake"
    assert fake_batch.bound_to("77") == "vwn-a"


def test_the_bait_side_names_each_missing_variable() -> None:
    with pytest.raises(BatchSystemError, match=BAIT_HOST_VAR):
        BAIT_SIDE.read(HookInput(environ={JOB_ID_VAR: "1001"}))


def test_a_job_held_from_its_bait_leaves_the_bait(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.dispatch_to_bait(job.job_id, "bait-1")
    fake_batch.hold(job.job_id, "wnod: VWN failed to boot three times")
    fake_batch.bait_exited(job.job_id, EXIT_CODES[BaitOutcome.REFUSED])
    facts = fake_batch.job_facts(job.job_id)
    assert (facts.state, facts.exec_hosts) == (JobState.HELD, ())
