"""The contract every batch-system adapter keeps, and the driver its tests provide.

The interface has no way to submit a job or bring a host up: those belong to the
batch system's users and daemons, not to wnod. A ``BatchDriver`` does them for the
suite, against whatever backs the adapter: the fake, an emulator of the system's
commands, or a real installation.
"""

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import attrs
import pytest

from ...errors import BatchSystemError, JobNotFound
from ...interfaces import BaitOutcome, BaitRequest, BaitSide, BatchHost, BatchSystem, HookAnswer, HookInput
from ...model import JobFacts, JobState
from ..fakes.batch import FakeBatchSystem


@attrs.frozen
class JobOwner:
    """Who submits the suite's jobs, where, and the groups the batch system must then report."""

    user: str
    queue: str
    groups: tuple[str, ...] = attrs.field(converter=tuple, default=())
    """Groups the system must report for the user, primary group first; empty checks none."""


@attrs.frozen
class HookCall:
    """What this system's job-start hook passes to ``wnod bait`` for a job on a bait."""

    environ: Mapping[str, str]
    argv: tuple[str, ...]
    bait_host: str
    """The bait the hook names; the bait side must read it back."""
    stdin: str = ""
    """What the hook writes on ``wnod bait``'s stdin (HTCondor: the job ClassAd)."""


class BatchDriver(abc.ABC):
    """What the suite needs done to the batch system beyond the adapter's own interface.

    Batch plugin authors implement it against their system, in their tests. Every
    method may block until the system has done what was asked; the suite still polls
    for what a real system reports late, up to ``settle_timeout``.
    """

    settle_timeout: float = 0.0
    """Seconds the suite waits for the system to show a change (a host joining, a job starting)."""

    unknown_job_id: str = "987654321"
    """A job id, well-formed for this system, that it does not know."""

    @abc.abstractmethod
    def submit(self, owner: JobOwner) -> str:
        """Submit a job as ``owner.user`` to ``owner.queue``; return its id.

        The job must not start anywhere until ``start`` is called for it: submit it
        where none of ``vwn_hostnames`` serves it (or held), as jobs wait for a bait.
        """

    @abc.abstractmethod
    def vwn_hostnames(self) -> Sequence[str]:
        """At least two host names that ``register_host`` can bring into the system."""

    @abc.abstractmethod
    def register_host(self, hostname: str) -> None:
        """Have the VWN `hostname` join the system, open to work, as its batch daemon would."""

    @abc.abstractmethod
    def start(self, job_id: str) -> str:
        """Let the system dispatch the job as its scheduler would; return the host it started on.

        Lift whatever ``submit`` did to keep it waiting. Raise ``BatchSystemError`` if it
        does not start within the driver's patience.
        """

    @abc.abstractmethod
    def cancel(self, job_id: str) -> None:
        """Cancel the job as its owner would."""

    @abc.abstractmethod
    def hook_call(self, job_id: str) -> HookCall:
        """What this system's job-start hook would pass to ``wnod bait`` for the job on a bait."""


class FakeBatchDriver(BatchDriver):
    """The driver of a system whose state is a fake's (``FakeBatchSystem``, ``SharedFakeBatchSystem``):
    the fake itself, or an emulator of a batch system's commands over the shared fake.

    It acts as the system's users and daemons, on `fake`: jobs wait until ``start``, hosts join
    on demand. ``hook_call`` gives the fake's own hook variables; an emulator's driver overrides it
    with its system's.
    """

    def __init__(self, fake: FakeBatchSystem) -> None:
        self.fake = fake

    def submit(self, owner: JobOwner) -> str:
        return self.fake.submit(owner.user, groups=owner.groups, queue=owner.queue).job_id

    def vwn_hostnames(self) -> Sequence[str]:
        return ("vwn-a", "vwn-b")

    def register_host(self, hostname: str) -> None:
        self.fake.register_host(hostname)

    def start(self, job_id: str) -> str:
        return self.fake.start(job_id)

    def cancel(self, job_id: str) -> None:
        self.fake.cancel(job_id)

    def hook_call(self, job_id: str) -> HookCall:
        return HookCall(environ=self.fake.hook_environ(job_id, "bait-1"), argv=(), bait_host="bait-1")


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """`check()`'s first true answer within `timeout` seconds (asked at least once); else fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            break
        time.sleep(min(0.2, max(timeout / 20, 0.01)))
    assert answer, f"{what} (waited {timeout:g}s)"
    return answer


class BatchSystemContract:
    """Subclass as ``class TestMyAdapter(BatchSystemContract)`` and provide these fixtures:

    - ``batch_system``: the adapter under test, wired to what backs it;
    - ``batch_driver``: a ``BatchDriver`` acting on that same system;
    - ``bait_side``: your plugin record's ``bait`` (``BatchSystemPlugin.bait``).

    ``job_owner`` submits as "alice" to queue "short" and checks no groups; override it
    with a user, queue and groups your system really has.

    Each test checks one promise of the ``BatchSystem`` interface's docstrings.
    """

    @pytest.fixture
    def job_owner(self) -> JobOwner:
        return JobOwner(user="alice", queue="short")

    @pytest.fixture
    def job_id(self, batch_driver: BatchDriver, job_owner: JobOwner) -> str:
        return batch_driver.submit(job_owner)

    @pytest.fixture
    def vwn_hosts(self, batch_driver: BatchDriver) -> tuple[str, str]:
        names = tuple(batch_driver.vwn_hostnames())
        assert len(names) >= 2 and len(set(names)) == len(names), "the driver must offer two distinct names"
        return names[0], names[1]

    @pytest.fixture
    def made_at(self) -> float:
        """When the test's VWNs were "made": just before their batch daemons register. Whole
        seconds, a little early: systems stamp registrations to the second."""
        return float(int(time.time()) - 1)

    @pytest.fixture
    def joined_hosts(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, vwn_hosts: tuple[str, str], made_at: float
    ) -> tuple[str, str]:
        for name in vwn_hosts:
            # As the engine does: it asks from the moment the VWN is made, before it joins.
            assert batch_system.host_ready(name, made_at) is False, f"{name} ready before it joined"
            batch_driver.register_host(name)
        for name in vwn_hosts:
            eventually(partial(batch_system.host_ready, name, made_at), batch_driver.settle_timeout,
                       f"{name} unready")
        return vwn_hosts

    def _facts(self, batch_system: BatchSystem, job_id: str) -> JobFacts:
        facts = batch_system.job_facts(job_id)
        assert isinstance(facts, JobFacts)
        return facts

    # -- facts -------------------------------------------------------------------------------------

    def test_is_a_batch_system(self, batch_system: BatchSystem) -> None:
        assert isinstance(batch_system, BatchSystem)

    def test_job_facts_name_the_job_its_owner_and_queue(
        self, batch_system: BatchSystem, job_id: str, job_owner: JobOwner
    ) -> None:
        facts = self._facts(batch_system, job_id)
        assert facts.job_id == job_id
        assert facts.batch_system, "facts must name the batch-system plugin that read them"
        assert facts.user == job_owner.user
        assert facts.queue == job_owner.queue
        assert not facts.state.is_over

    def test_job_facts_carry_the_owners_groups_primary_first(
        self, batch_system: BatchSystem, job_id: str, job_owner: JobOwner
    ) -> None:
        if not job_owner.groups:
            pytest.skip("job_owner names no groups to check")
        facts = self._facts(batch_system, job_id)
        assert facts.primary_group == job_owner.groups[0]
        assert set(job_owner.groups) <= set(facts.groups)

    def test_job_facts_of_an_unknown_job_raise_job_not_found(
        self, batch_system: BatchSystem, batch_driver: BatchDriver
    ) -> None:
        with pytest.raises(JobNotFound):
            batch_system.job_facts(batch_driver.unknown_job_id)

    # -- hosts -------------------------------------------------------------------------------------

    def test_a_host_is_not_ready_before_it_joins(
        self, batch_system: BatchSystem, vwn_hosts: tuple[str, str], made_at: float
    ) -> None:
        assert batch_system.host_ready(vwn_hosts[0], made_at) is False

    def test_a_host_is_ready_once_it_joins(
        self, batch_system: BatchSystem, joined_hosts: tuple[str, str], made_at: float
    ) -> None:
        assert batch_system.host_ready(joined_hosts[0], made_at) is True

    def test_a_registration_from_before_the_vwn_was_made_does_not_count(
        self, batch_system: BatchSystem, joined_hosts: tuple[str, str]
    ) -> None:
        # The name's registration is an earlier VWN's as far as a VWN made a minute from now goes.
        assert batch_system.host_ready(joined_hosts[0], time.time() + 60) is False

    def test_hosts_lists_a_joined_host(
        self, batch_system: BatchSystem, joined_hosts: tuple[str, str]
    ) -> None:
        hosts = batch_system.hosts()
        assert all(isinstance(h, BatchHost) for h in hosts)
        assert joined_hosts[0] in {h.name for h in hosts}

    def test_close_host_stops_dispatch_and_is_idempotent(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, joined_hosts: tuple[str, str]
    ) -> None:
        name = joined_hosts[0]
        batch_system.close_host(name)
        batch_system.close_host(name)
        closed = partial(_accepting_is, False, batch_system, name)
        eventually(closed, batch_driver.settle_timeout, f"{name} still accepts jobs")

    def test_open_host_lets_dispatch_again_and_is_idempotent(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, joined_hosts: tuple[str, str]
    ) -> None:
        name = joined_hosts[0]
        batch_system.close_host(name)
        batch_system.open_host(name)
        batch_system.open_host(name)
        opened = partial(_accepting_is, True, batch_system, name)
        eventually(opened, batch_driver.settle_timeout, f"{name} still refuses jobs")

    # -- migrate -----------------------------------------------------------------------------------

    def test_a_migrated_job_starts_on_its_host_only(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        # Bound to the second of two open hosts, so a scheduler ignoring the binding would
        # be free to pick the first.
        target = joined_hosts[1]
        batch_system.migrate(job_id, target)
        assert batch_driver.start(job_id) == target
        running = partial(_running, batch_system, job_id)
        facts = eventually(running, batch_driver.settle_timeout, f"job {job_id} not shown running")
        assert facts.exec_hosts == (target,)

    def test_migrate_is_idempotent(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        target = joined_hosts[1]
        batch_system.migrate(job_id, target)
        before = self._facts(batch_system, job_id)
        batch_system.migrate(job_id, target)
        assert self._facts(batch_system, job_id) == before
        assert batch_driver.start(job_id) == target

    def test_migrate_of_a_cancelled_job_raises_job_not_found(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        batch_driver.cancel(job_id)
        with pytest.raises(JobNotFound):
            batch_system.migrate(job_id, joined_hosts[0])

    def test_migrate_of_an_unknown_job_raises_job_not_found(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, joined_hosts: tuple[str, str]
    ) -> None:
        with pytest.raises(JobNotFound):
            batch_system.migrate(batch_driver.unknown_job_id, joined_hosts[0])

    # -- release, hold, fail -----------------------------------------------------------------------

    def test_release_drops_the_binding_and_is_idempotent(
        self, batch_system: BatchSystem, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        batch_system.migrate(job_id, joined_hosts[1])
        batch_system.release(job_id, "site policy: run outside a VWN")
        batch_system.release(job_id, "site policy: run outside a VWN")
        facts = self._facts(batch_system, job_id)
        assert not facts.state.is_over and facts.state is not JobState.HELD, "it must be scheduled as usual"

    def test_release_takes_a_job_off_the_vwn_it_was_bound_to_and_started_on(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        # As a late migrate leaves it: the VWN closed to all but the job, the job started there,
        # and wnod, which gave that VWN up, releases the job.
        target = joined_hosts[1]
        batch_system.close_host(target)
        batch_system.migrate(job_id, target)
        assert batch_driver.start(job_id) == target
        eventually(partial(_running, batch_system, job_id), batch_driver.settle_timeout,
                   f"job {job_id} not shown running")
        batch_system.release(job_id, "wnod gave up on moving it to a VWN")
        batch_system.release(job_id, "wnod gave up on moving it to a VWN")

        def off_it() -> JobFacts | None:
            facts = self._facts(batch_system, job_id)
            return facts if target not in facts.exec_hosts else None

        facts = eventually(off_it, batch_driver.settle_timeout, f"job {job_id} still runs on {target}")
        assert not facts.state.is_over, f"taken off, not ended: {facts}"

    def test_hold_holds_with_the_reason_visible(self, batch_system: BatchSystem, job_id: str) -> None:
        # Once: a system whose hold writes a comment of its own (PBS's qhold) must not lose wnod's.
        reason = "wnod: no VWN could be made for this job"
        batch_system.hold(job_id, reason)
        facts = self._facts(batch_system, job_id)
        assert facts.state is JobState.HELD
        assert reason in facts.reason

    def test_hold_is_idempotent(self, batch_system: BatchSystem, job_id: str) -> None:
        reason = "wnod: no VWN could be made for this job"
        batch_system.hold(job_id, reason)
        batch_system.hold(job_id, reason)
        facts = self._facts(batch_system, job_id)
        assert facts.state is JobState.HELD
        assert reason in facts.reason

    def test_fail_ends_the_job_with_the_reason_visible_and_is_idempotent(
        self, batch_system: BatchSystem, job_id: str
    ) -> None:
        reason = "wnod: user alice may not run VM type atlas"
        batch_system.fail(job_id, reason)
        try:
            batch_system.fail(job_id, reason)
        except JobNotFound:
            pass  # a system that forgets a removed job at once knows it no more: gone, as asked
        try:
            facts = batch_system.job_facts(job_id)
        except JobNotFound:
            return  # a system may forget an ended job at once; it has ended all the same
        assert facts.state.is_over
        assert reason in facts.reason

    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(lambda b, job: b.release(job, "why"), id="release"),
            pytest.param(lambda b, job: b.hold(job, "why"), id="hold"),
            pytest.param(lambda b, job: b.fail(job, "why"), id="fail"),
        ],
    )
    def test_handing_back_an_unknown_job_raises_job_not_found(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, call: Callable[..., object]
    ) -> None:
        # Not a silent success: the engine records a give-back done only on the batch system's
        # word, and "no such job" is a word of its own (the job is gone), not "done".
        with pytest.raises(JobNotFound):
            call(batch_system, batch_driver.unknown_job_id)

    def test_a_failed_job_cannot_be_migrated(
        self, batch_system: BatchSystem, job_id: str, joined_hosts: tuple[str, str]
    ) -> None:
        batch_system.fail(job_id, "wnod: refused")
        with pytest.raises(JobNotFound):
            batch_system.migrate(job_id, joined_hosts[0])

    # -- the bait ----------------------------------------------------------------------------------

    def test_the_bait_side_reads_the_hooks_call(
        self, bait_side: BaitSide, batch_driver: BatchDriver, job_id: str
    ) -> None:
        call = batch_driver.hook_call(job_id)
        request = bait_side.read(HookInput(environ=call.environ, argv=call.argv, stdin=call.stdin))
        assert request == BaitRequest(job_id=job_id, bait_host=call.bait_host)

    def test_the_bait_side_reads_stdin_only_if_it_says_so(self, bait_side: BaitSide, batch_driver: BatchDriver,
                                                         job_id: str) -> None:
        call = batch_driver.hook_call(job_id)
        assert bait_side.reads_stdin or not call.stdin, "the hook passes stdin, but wnod bait would not read it"

    def test_the_bait_side_outside_the_hook_names_what_is_missing(self, bait_side: BaitSide) -> None:
        with pytest.raises(BatchSystemError) as err:
            bait_side.read(HookInput(environ={}, argv=()))
        assert str(err.value), "the error must say what the hook should have passed"

    @pytest.mark.parametrize(
        "hook",
        [
            pytest.param(HookInput(environ={"PATH": "/bin"}, argv=("wnod", "bait")), id="someone-else's"),
            pytest.param(HookInput(environ={"PATH": "/bin"}, argv=("x" * 5000, "\x1b[2J;rm -rf /")), id="garbage"),
            pytest.param(HookInput(environ={"PATH": "/bin"}, argv=(), stdin="\x00\xff" * 100), id="binary-stdin"),
        ],
    )
    def test_the_bait_side_refuses_garbage_with_batch_system_errors_only(self, bait_side: BaitSide,
                                                                        hook: HookInput) -> None:
        try:
            bait_side.read(hook)
        except BatchSystemError:
            pass

    @pytest.mark.parametrize("outcome", list(BaitOutcome))
    def test_every_outcome_has_an_answer(self, bait_side: BaitSide, outcome: BaitOutcome) -> None:
        answer = bait_side.answer(outcome, "wnod: a reason, with \"quotes\" and a \\ backslash")
        assert isinstance(answer, HookAnswer), "an exit code (0-255) and what to print"

    def test_released_is_told_apart_from_every_outcome_that_must_not_run_the_job_here(
        self, bait_side: BaitSide
    ) -> None:
        released = bait_side.answer(BaitOutcome.RELEASED, "why")
        for outcome in (BaitOutcome.MIGRATED, BaitOutcome.REFUSED, BaitOutcome.RETRY):
            assert bait_side.answer(outcome, "why") != released, outcome

    def test_refused_is_told_apart_from_retry(self, bait_side: BaitSide) -> None:
        # One ends the job, the other puts it back to pending: the system must see which.
        assert bait_side.answer(BaitOutcome.REFUSED, "why") != bait_side.answer(BaitOutcome.RETRY, "why")

    # -- errors ------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(lambda b, job, host: b.job_facts(job), id="job_facts"),
            pytest.param(lambda b, job, host: b.migrate(job, host), id="migrate"),
            pytest.param(lambda b, job, host: b.release(job, "why"), id="release"),
            pytest.param(lambda b, job, host: b.hold(job, "why"), id="hold"),
            pytest.param(lambda b, job, host: b.fail(job, "why"), id="fail"),
            pytest.param(lambda b, job, host: b.host_ready(host, 0.0), id="host_ready"),
            pytest.param(lambda b, job, host: b.close_host(host), id="close_host"),
            pytest.param(lambda b, job, host: b.open_host(host), id="open_host"),
        ],
    )
    def test_failures_are_batch_system_errors_only(
        self, batch_system: BatchSystem, batch_driver: BatchDriver, call: Callable[..., object]
    ) -> None:
        # Unknown jobs and hosts that never joined: whether each is refused is the system's
        # business, but a refusal must come as BatchSystemError, never another exception.
        try:
            call(batch_system, batch_driver.unknown_job_id, "wnod-contract-no-such-host")
        except BatchSystemError:
            pass


def _accepting_is(expected: bool, batch_system: BatchSystem, name: str) -> bool:
    matches = [h for h in batch_system.hosts() if h.name == name]
    assert matches, f"hosts() does not list {name}"
    return matches[0].accepting is expected


def _running(batch_system: BatchSystem, job_id: str) -> JobFacts | None:
    facts = batch_system.job_facts(job_id)
    return facts if facts.state is JobState.RUNNING else None
