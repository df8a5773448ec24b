"""Random interleavings of one host's flow, checked against the engine's promises.

A hypothesis state machine drives an Engine wired to the in-memory fakes: jobs arrive
(alone, several at once, the same job twice), are cancelled before their bait, while
their VWN boots or while they run; VWNs fail to be created, never join or join late,
crash; plugin calls fail once; idle TTLs pass; upkeep rounds run; and the daemon is
restarted between steps, in the middle of a placement (killed right after its k-th
record, or its tasks cancelled wherever they stand). After every step the invariants
below are checked; after ``quiesce`` (and at teardown) so are those of a settled host.

One event loop stands for one daemon process: a restart cancels every task, waits for
the worker threads the killed daemon left (a real kill takes them with it, so their
effects must land before the new daemon looks), and starts a new loop and engine.
"""

import asyncio
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import attrs
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wnod_core.chain import Link, ResolverChain
from wnod_core.config.schema import EngineSection
from wnod_core.engine import Engine, HostPolicy, Parts, Store
from wnod_core.engine.calls import host_fence, job_fence, vwn_fence
from wnod_core.errors import BatchSystemError, HypervisorError
from wnod_core.interfaces import BaitOutcome, DomainState, Resolver
from wnod_core.model import HostCapacity, JobFacts, JobState, Refused, Resolved, ReusePolicy, VmType, VwnState
from wnod_core.model.events import JobStep, JobStepped, VwnChanged
from wnod_core.model.flight import FINAL_STEPS
from wnod_core.testing.fakes import EXIT_CODES, FakeBatchSystem, FakeHypervisor
from wnod_core.testing.kills import Killed, kill_at_write

HOST = "hv01.farm.test"
BAIT = "bait01"
TYPES = {
    # Two sizes, so that the vCPU, memory and count limits each bind in some sequences.
    "blue": VmType(name="blue", image="blue.img", vcpus=2, memory="2GiB", boot_timeout=0.05,
                   reuse=ReusePolicy(max_reuses=2, idle_ttl="30m")),
    "red": VmType(name="red", image="red.img", vcpus=1, memory="1GiB", boot_timeout=0.05,
                  reuse=ReusePolicy(max_reuses=2, idle_ttl="30m")),
}
CAPACITY = HostCapacity(vcpus=4, memory="4GiB", max_vwns=3)
QUEUES = st.sampled_from(["blue", "blue", "red", "red", "nope", "green"])
"""blue and red resolve to their type; nope is refused by the resolver; green by nobody."""
JOINS = st.sampled_from(["now", "now", "now", "never", "late"])
"""How the next VWN's batch daemon joins: at once, never (boot timeout), or when ``late_join`` runs."""
PICK = st.integers(0, 2**16)
"""Which of the jobs or VWNs at hand a rule acts on. Drawn whatever the state, so that a rule's
draws never depend on how far the background tasks got (hypothesis replays would call that flaky)."""
ALIVE_WITH_DOMAIN = (VwnState.READY, VwnState.RUNNING, VwnState.IDLE)
TRANSIENT = (VwnState.CREATING, VwnState.BOOTING, VwnState.CLEANING, VwnState.DESTROYING)


async def _gather(*tasks, return_exceptions: bool = False):
    return await asyncio.gather(*tasks, return_exceptions=return_exceptions)


async def _wait(task: asyncio.Task, timeout: float) -> None:
    await asyncio.wait([task], timeout=timeout)


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if not isinstance(context.get("exception"), Killed):  # a staged kill is no news
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    return loop


def _pick(candidates, pick: int):
    return candidates[pick % len(candidates)] if candidates else None


class ByQueue(Resolver):
    def resolve(self, job: JobFacts):
        if job.queue == "nope":
            return Refused(f"queue nope is closed to user {job.user}")
        if job.queue in TYPES:
            return Resolved(job.queue, f"queue {job.queue}")
        return None


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Heard:
    def __init__(self) -> None:
        self.vwns: list[VwnChanged] = []
        self.steps: list[JobStepped] = []

    def vwn_changed(self, event: VwnChanged) -> None:
        self.vwns.append(event)

    def job_step(self, event: JobStepped) -> None:
        self.steps.append(event)


class EngineErrors(logging.Handler):
    """Collects what the engine logs with a traceback: a caught bug (an illegal move, say) is still a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # With a traceback: a caught bug. Without: a report for the admin (boots failing, a job
        # stuck), which the faults this machine injects are meant to cause.
        if record.exc_info:
            self.records.append(record)


class HostMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="wnod-stateful-"))
        self.errors = EngineErrors()
        logging.getLogger("wnod.engine").addHandler(self.errors)
        self.clock = Clock()
        self.batch = FakeBatchSystem(clock=self.clock)  # one clock for the engine and the world
        self.hypervisor = FakeHypervisor(on_create=self._created, on_destroy=self._destroyed)
        self.policy = HostPolicy(
            host=HOST,
            capacity=CAPACITY,
            # A short plugin timeout, so that slowed calls outlive it and land late.
            engine=EngineSection(poll_interval="0.01s", boot_retries=1, plugin_timeout="0.1s", full_wait="0s",
                                 breaker_failures=4, breaker_type_failures=3, breaker_backoff="30s"),
            vm_types=TYPES,
        )
        self.heard = Heard()
        self.checked_events = 0
        self.queue_of: dict[str, str] = {}
        self.next_joins: list[str] = []
        self.late: set[str] = set()
        """Host names of VWNs whose batch daemon joins only when ``late_join`` runs."""
        self.asking: dict[str, asyncio.Task] = {}
        """The baits waiting for an answer, by job: each is a ``wnod bait`` long-polling."""
        self.loop = _new_loop()
        self.engine = self._new_engine()

    # -- the world around the engine -------------------------------------------------------------

    def _created(self, spec) -> None:
        how = self.next_joins.pop(0) if self.next_joins else "now"
        if how == "now":
            self.batch.register_host(spec.hostname)
        elif how == "late":
            self.late.add(spec.hostname)

    def _destroyed(self, spec) -> None:
        self.late.discard(spec.hostname)
        self.batch.unregister_host(spec.hostname)

    def _new_engine(self) -> Engine:
        parts = Parts(
            policy=self.policy,
            store=Store(self.tmp / "wnod.db"),
            batch=self.batch,
            hypervisor=self.hypervisor,
            chain=ResolverChain([Link("by-queue (resolvers[0])", ByQueue())], TYPES),
            listeners=self.heard,
            clock=self.clock,
        )
        return Engine(parts)

    @property
    def store(self) -> Store:
        return self.engine.parts.store

    def _run(self, coro, timeout: float = 10):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def _submit(self, queue: str) -> str:
        job = self.batch.submit("alice", groups=("physics",), queue=queue).job_id
        self.queue_of[job] = queue
        self.batch.dispatch_to_bait(job, BAIT)
        return job

    async def _ask(self, job: str) -> None:
        """`wnod bait` for `job`: ask the daemon, then exit with the code its answer means."""
        answer = await self.engine.bait(job, BAIT)
        self.asking.pop(job, None)
        event(f"bait answered {answer.outcome}")
        try:
            self.batch.bait_exited(job, EXIT_CODES[answer.outcome])
        except BatchSystemError:
            pass  # purged meanwhile

    def _ask_in_background(self, job: str) -> asyncio.Task:
        task = self.loop.create_task(self._ask(job))
        self.asking[job] = task
        return task

    def _bait_now(self, *jobs: str) -> None:
        tasks = [self._ask_in_background(job) for job in jobs]
        self._run(_gather(*tasks))

    def _jobs(self, *states: JobState, bound: bool | None = None, on_bait: bool | None = None) -> list[str]:
        out = []
        for job in sorted(self.queue_of):
            facts = self.batch.job(job)
            if facts is None or facts.state not in states:
                continue
            if bound is not None and (self.batch.bound_to(job) is not None) != bound:
                continue
            if on_bait is not None and (facts.exec_hosts == (BAIT,)) != on_bait:
                continue
            out.append(job)
        return out

    def _restart(self, reask: bool) -> None:
        """The daemon dies (its tasks with it) and a new one starts over the same records."""
        asking = sorted(self.asking)
        # Its commands die with it: a slowed call under way takes no effect.
        self.batch.kill_slow_calls()
        self.hypervisor.kill_slow_calls()
        self.engine.close()
        tasks = [*self.asking.values(), *asyncio.all_tasks(self.loop)]
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(_gather(*tasks, return_exceptions=True))
        # A killed process takes its threads along: let theirs land before the next daemon looks.
        self.engine.close(wait=True)
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()
        self.store.close()
        self.asking.clear()
        self.loop = _new_loop()
        self.engine = self._new_engine()
        self._run(self.engine.start())
        for job in asking:
            if reask:  # the hook's client reconnects and asks again
                self._ask_in_background(job)
            else:  # it gives up: the batch system puts the job back to pending
                try:
                    self.batch.bait_exited(job, EXIT_CODES[BaitOutcome.RETRY])
                except BatchSystemError:
                    pass

    def _arm_killer(self, k: int) -> None:
        """The daemon dies right after its k-th record write from now (each a transaction)."""
        kill_at_write(self.engine.parts.store, k)

    # -- rules: jobs -----------------------------------------------------------------------------

    @rule(queue=QUEUES, joins=JOINS, wait=st.booleans())
    def arrive(self, queue: str, joins: str, wait: bool) -> None:
        """A job is dispatched to the bait; its hook asks for a VWN (waiting for the answer, or not yet)."""
        self.next_joins = [joins]
        job = self._submit(queue)
        if wait and joins != "late":
            self._bait_now(job)
        else:
            self._ask_in_background(job)
            self._run(asyncio.sleep(0.005))

    @rule(queues=st.lists(QUEUES, min_size=2, max_size=4), twice=st.booleans())
    def arrive_together(self, queues: list[str], twice: bool) -> None:
        """Several baits at once, racing for the host's room; maybe one job dispatched to two baits."""
        self.next_joins = []
        jobs = [self._submit(q) for q in queues]
        tasks = [self._ask_in_background(job) for job in jobs]
        if twice:
            tasks.append(self.loop.create_task(self.engine.bait(jobs[0], "bait02")))
        self._run(_gather(*tasks))

    @rule(pick=PICK)
    def dispatch_again(self, pick: int) -> None:
        """The batch system dispatches a pending job (requeued, or given up on) to the bait again."""
        job = _pick(self._jobs(JobState.PENDING, bound=False), pick)
        if job is None:
            return
        self.batch.dispatch_to_bait(job, BAIT)
        if job in self.asking:  # an earlier bait still waits for it: this one asks alongside
            self._run(self.engine.bait(job, BAIT))
        else:
            self._bait_now(job)

    @rule(queue=QUEUES)
    def cancelled_before_its_bait_asks(self, queue: str) -> None:
        job = self._submit(queue)
        self.batch.cancel(job)
        self._bait_now(job)

    @rule(queue=QUEUES)
    def cancelled_while_its_vwn_boots(self, queue: str) -> None:
        job = self._submit(queue)

        def cancel(_args) -> None:
            remove()
            self.batch.cancel(job)

        remove = self.batch.before("host_ready", cancel)
        try:
            self._bait_now(job)
        finally:
            remove()

    @rule(pick=PICK)
    def cancel(self, pick: int) -> None:
        """The owner cancels a job wherever it stands."""
        job = _pick(self._jobs(*JobState), pick)
        if job is None:
            return
        self.batch.cancel(job)

    @rule(pick=PICK)
    def start_on_its_vwn(self, pick: int) -> None:
        job = _pick(self._jobs(JobState.PENDING, bound=True), pick)
        if job is None:
            return
        try:
            self.batch.start(job)
        except BatchSystemError:
            pass  # its VWN left the batch system (crashed): it stays pending

    @rule(pick=PICK)
    def scheduler_starts_a_pending_job_anywhere(self, pick: int) -> None:
        """The scheduler runs an unbound pending job on any host that accepts it."""
        job = _pick(self._jobs(JobState.PENDING, bound=False), pick)
        if job is None:
            return
        try:
            self.batch.start(job)
        except BatchSystemError:
            pass  # no host accepts it

    @rule(pick=PICK, purge=st.booleans())
    def job_ends(self, pick: int, purge: bool) -> None:
        job = _pick(self._jobs(JobState.RUNNING, on_bait=False), pick)
        if job is None:
            return
        self.batch.finish(job)
        if purge:  # the end notice came late: the batch system forgot the job already
            self.batch.purge(job)
        self.engine.notice(job)

    # -- rules: VWNs and plugins -----------------------------------------------------------------

    @rule()
    def late_join(self) -> None:
        """The VWNs that were slow to boot join the batch system."""
        for hostname in sorted(self.late):
            self.batch.register_host(hostname)
        self.late.clear()
        self._run(asyncio.sleep(0.02))

    @rule(pick=PICK)
    def vwn_crashes(self, pick: int) -> None:
        vwn_id = _pick(self.hypervisor.running(), pick)
        if vwn_id is None:
            return
        domain = self.hypervisor.domain(vwn_id)
        if domain is None:  # a worker thread destroyed it meanwhile
            return
        hostname = domain.spec.hostname
        try:
            self.hypervisor.crash(vwn_id)
        except HypervisorError:
            return
        self.batch.unregister_host(hostname)
        for job in self._jobs(JobState.RUNNING):
            facts = self.batch.job(job)
            if facts.exec_hosts == (hostname,):  # the batch system requeues the job its host lost
                self.batch.add_job(attrs.evolve(facts, state=JobState.PENDING, exec_hosts=()),
                                   bound_to=self.batch.bound_to(job))

    @rule(method=st.sampled_from(["create", "destroy", "reset_scratch"]))
    def hypervisor_fails_once(self, method: str) -> None:
        self.hypervisor.fail_next(method, HypervisorError(f"fake: {method} failed (injected)"))

    @rule(method=st.sampled_from(["migrate", "close_host", "job_facts", "host_ready", "release", "fail"]))
    def batch_system_fails_once(self, method: str) -> None:
        self.batch.fail_next(method, BatchSystemError(f"fake: {method} failed (injected)"))

    @rule(method=st.sampled_from(["migrate", "close_host", "release", "fail", "job_facts"]),
          seconds=st.sampled_from([0.05, 0.5, 2.0]))
    def batch_system_fails_for_a_while(self, method: str, seconds: float) -> None:
        """A lasting failure (the controller is down), not a passing one."""
        self.batch.fail_for(method, BatchSystemError(f"fake: {method} failing for {seconds}s (injected)"), seconds)

    @rule(method=st.sampled_from(["migrate", "close_host", "release", "open_host"]))
    def batch_call_lands_late(self, method: str) -> None:
        """The next such call outlives engine.plugin_timeout, then takes effect all the same."""
        self.batch.slow_next(method, 0.15)

    @rule(method=st.sampled_from(["create", "destroy", "reset_scratch"]))
    def hypervisor_call_lands_late(self, method: str) -> None:
        self.hypervisor.slow_next(method, 0.15)

    @rule(pick=PICK)
    def batch_daemon_dies(self, pick: int) -> None:
        """A VWN's batch daemon dies while its domain runs: the batch system notices minutes later
        (it shows the host registered until then), then requeues its job, still bound."""
        vwn_id = _pick(self.hypervisor.running(), pick)
        domain = self.hypervisor.domain(vwn_id) if vwn_id else None
        if domain is not None:
            self.batch.unregister_host(domain.spec.hostname)

    @rule(pick=PICK)
    def batch_system_requeues_a_started_job(self, pick: int) -> None:
        job = _pick(self._jobs(JobState.RUNNING, on_bait=False), pick)
        if job is not None:
            self.batch.requeue(job)

    @rule(seconds=st.sampled_from([1, 61, 301, 1801, 3601, 86401]))
    def clock_jumps(self, seconds: int) -> None:
        self.clock.offset += seconds


    @rule()
    def upkeep(self) -> None:
        self._run(self.engine.round())

    # -- rules: the daemon -----------------------------------------------------------------------

    @rule(reask=st.booleans())
    def restart(self, reask: bool) -> None:
        self._restart(reask)

    @rule(queue=QUEUES, k=st.integers(1, 10), reask=st.booleans())
    def killed_after_a_record(self, queue: str, k: int, reask: bool) -> None:
        """A job arrives and the daemon is killed right after its k-th record from then on."""
        self._arm_killer(k)
        job = self._submit(queue)
        task = self._ask_in_background(job)
        self.loop.run_until_complete(_wait(task, 5))
        self._restart(reask)

    @rule(queue=QUEUES, joins=JOINS, ticks=st.integers(0, 30), reask=st.booleans())
    def killed_mid_placement(self, queue: str, joins: str, ticks: int, reask: bool) -> None:
        """A job arrives and the daemon is killed wherever its tasks stand after a few ticks."""
        self.next_joins = [joins]
        job = self._submit(queue)
        self._ask_in_background(job)
        for _ in range(ticks):
            self.loop.run_until_complete(asyncio.sleep(0.001))
        self._restart(reask)

    @rule()
    def quiesce(self) -> None:
        self._settle()
        self._check_settled()

    async def _landed(self, timeout: float = 5.0) -> None:
        calls = self.engine.parts.calls
        deadline = time.monotonic() + timeout
        while self.batch.slowed_calls or self.hypervisor.slowed_calls or calls.landing:
            assert time.monotonic() < deadline, f"slowed calls never ended: {calls.abandoned}"
            await asyncio.sleep(0.002)

    def _settle(self) -> None:
        self.hypervisor.clear_failures()
        self.batch.clear_failures()
        # Calls slowed earlier land now, and their undo runs (a breaker opened by the faults
        # closes with the clock's jump below).
        self._run(self._landed())
        self.clock.offset += 3600
        self.next_joins = []
        for hostname in sorted(self.late):
            self.batch.register_host(hostname)
        self.late.clear()
        tasks = list(self.asking.values())
        self._run(_gather(*tasks), timeout=20)
        self._run(self.engine.wait_idle(), timeout=20)
        for _ in range(3):
            self._run(self.engine.round())
            # A round retries failed undos in the background: the next round sees them through.
            self._run(self._landed())
        self._run(self.engine.wait_idle(), timeout=20)

    # -- invariants ------------------------------------------------------------------------------

    def _records(self):
        return self.store.vwns(alive=False)

    @invariant()
    def the_engine_logged_no_error(self) -> None:
        assert not self.errors.records, [
            f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage() for r in self.errors.records
        ]

    @invariant()
    def no_vwn_leaked(self) -> None:
        records = {v.id: v for v in self._records()}
        for vwn_id in self.hypervisor.running() + [
            i for i in records if self.hypervisor.domain(i) is not None
        ]:
            vwn = records.get(vwn_id)
            assert vwn is not None, f"domain {vwn_id} runs with no record"
            # A create that outlived its timeout may make the domain of a VWN recorded gone: the
            # engine knows (the VWN is fenced) and destroys it once the call has ended.
            late = self.engine.parts.calls.fenced(vwn_fence(vwn_id))
            # Or the daemon found it at its start and could not destroy it again yet: quarantined,
            # shown to the admin, destroyed again by the rounds; the host takes no job meanwhile.
            held = vwn_id in self.engine.parts.quarantine
            assert vwn.state is not VwnState.DESTROYED or late or held, f"domain {vwn_id} outlives its record: {vwn}"
        for vwn in records.values():
            if vwn.state in ALIVE_WITH_DOMAIN:
                assert self.hypervisor.domain(vwn.id) is not None, f"{vwn.state} VWN {vwn.id} has no domain"

    @invariant()
    def host_capacity_is_never_exceeded(self) -> None:
        alive = [v for v in self._records() if v.state is not VwnState.DESTROYED]
        domains = [self.hypervisor.domain(i) for i in {v.id for v in self._records()}]
        domains = [d for d in domains if d is not None]
        for what, sizes in (
            ("records", [(TYPES[v.vm_type].vcpus, TYPES[v.vm_type].memory) for v in alive]),
            ("domains", [(d.spec.vm_type.vcpus, d.spec.vm_type.memory) for d in domains]),
        ):
            assert len(sizes) <= CAPACITY.max_vwns, f"{len(sizes)} VWNs ({what})"
            assert sum(c for c, _ in sizes) <= CAPACITY.vcpus, f"vCPUs over capacity ({what})"
            assert sum(m for _, m in sizes) <= CAPACITY.memory, f"memory over capacity ({what})"
        assert len(self.hypervisor.running()) <= CAPACITY.max_vwns
        slots = [v.slot for v in alive]
        assert len(slots) == len(set(slots)), f"two alive VWNs share a slot: {alive}"

    @invariant()
    def one_job_per_vwn_one_vwn_per_job_of_its_type(self) -> None:
        alive = [v for v in self._records() if v.state is not VwnState.DESTROYED]
        # A VWN being destroyed keeps the job it was for until it is gone; only the others count.
        held = [v.job_id for v in alive if v.job_id and v.is_alive]
        assert len(held) == len(set(held)), f"a job holds two VWNs: {alive}"
        for vwn in alive:
            if vwn.job_id:
                assert self.queue_of[vwn.job_id] == vwn.vm_type, f"{vwn} holds a job of another type"
        for heard in self.heard.vwns[self.checked_events:]:
            if heard.vwn.job_id:
                assert self.queue_of[heard.vwn.job_id] == heard.vwn.vm_type, f"{heard} serves another type"
        self.checked_events = len(self.heard.vwns)
        by_hostname = {v.hostname: v for v in alive}
        running_on: dict[str, list[str]] = {}
        for job in self._jobs(JobState.RUNNING, on_bait=False):
            for hostname in self.batch.job(job).exec_hosts:
                running_on.setdefault(hostname, []).append(job)
        for hostname, jobs in running_on.items():
            assert len(jobs) == 1, f"jobs {jobs} all run on {hostname}"
            vwn = by_hostname.get(hostname)
            if vwn is not None and vwn.job_id == jobs[0]:
                continue
            # Started on a binding a late migrate made: the VWN stays fenced until its undo (or
            # the job's give-back, after a restart) has taken the job off it again.
            flight = self.store.job(jobs[0])
            known = (self.engine.parts.calls.fenced(host_fence(hostname))
                     or (flight is not None and flight.step is JobStep.GIVING_BACK))
            assert known, f"job {jobs[0]} runs on {hostname}, which is {vwn}"

    @invariant()
    def no_two_jobs_bound_to_one_host_name(self) -> None:
        bound: dict[str, list[str]] = {}
        for job in sorted(self.queue_of):
            facts = self.batch.job(job)
            hostname = self.batch.bound_to(job)
            if hostname is not None and facts is not None and not facts.state.is_over:
                bound.setdefault(hostname, []).append(job)
        doubled = {h: jobs for h, jobs in bound.items() if len(jobs) > 1}
        assert not doubled, f"two jobs bound to one host name: {doubled}"

    @invariant()
    def every_binding_is_to_the_jobs_own_alive_vwn(self) -> None:
        """Or, for a while, one wnod knows of: a late call it will undo, a job it is handing back."""
        alive = [v for v in self._records() if v.state is not VwnState.DESTROYED]
        calls = self.engine.parts.calls
        for job in sorted(self.queue_of):
            hostname = self.batch.bound_to(job)
            facts = self.batch.job(job)
            if hostname is None or facts is None or facts.state.is_over:
                continue
            owners = [v for v in alive if v.hostname == hostname and v.job_id == job]
            flight = self.store.job(job)
            known = (calls.fenced(job_fence(job)) or calls.fenced(host_fence(hostname))
                     or (flight is not None and flight.step is JobStep.GIVING_BACK))
            assert owners or known, (
                f"job {job} is bound to {hostname}, but no alive VWN there is its own: "
                f"{[v for v in alive if v.hostname == hostname]}; flight {flight}"
            )

    def _check_settled(self) -> None:
        assert not self.asking and not self.engine._drivers
        records = self._records()
        alive = [v for v in records if v.state is not VwnState.DESTROYED]
        for vwn in alive:
            assert vwn.state not in TRANSIENT, f"VWN left {vwn.state} once settled: {vwn}"
            domain = self.hypervisor.domain(vwn.id)
            assert domain is not None and domain.state is DomainState.RUNNING, f"{vwn} has domain {domain}"
        assert sorted(self.hypervisor.running()) == sorted(v.id for v in alive)
        for flight in self.store.jobs():
            assert flight.step in (JobStep.MIGRATED, JobStep.STARTED), f"flight stuck: {flight}"
            [vwn] = [v for v in alive if v.id == flight.vwn_id] or [None]
            assert vwn is not None and vwn.job_id == flight.job_id, f"{flight} has no VWN: {vwn}"
        for vwn in alive:
            if vwn.job_id:
                facts = self.batch.job(vwn.job_id)
                assert facts is not None and not facts.state.is_over, f"{vwn} holds an ended job: {facts}"
                flight = self.store.job(vwn.job_id)
                assert flight is not None and not flight.is_over and flight.vwn_id == vwn.id, (vwn, flight)
        for job in self._jobs(JobState.PENDING):
            flight = self.store.job(job)
            hostname = self.batch.bound_to(job)
            if flight is None or flight.step in FINAL_STEPS:
                # Given back, or never recorded (the daemon died before it read the job): the
                # batch system dispatches it again, to a bait, like any pending job.
                assert hostname is None, f"job {job} is {flight.step} but still bound to {hostname}"
                continue
            [vwn] = [v for v in alive if v.hostname == hostname] or [None]
            assert vwn is not None and (vwn.state, vwn.job_id) == (VwnState.READY, job), (
                f"pending job {job} ({flight.step}) is bound to {hostname}, whose VWN is {vwn}"
            )
            assert vwn.vm_type == self.queue_of[job]
        for job in self._jobs(JobState.RUNNING, on_bait=False):
            [hostname] = self.batch.job(job).exec_hosts
            [vwn] = [v for v in alive if v.hostname == hostname] or [None]
            assert vwn is not None and (vwn.state, vwn.job_id) == (VwnState.RUNNING, job), (
                f"job {job} runs on {hostname}, whose VWN is {vwn}"
            )

    def teardown(self) -> None:
        try:
            if not self.loop.is_closed():
                self._settle()
                self._check_settled()
        finally:
            try:
                self.engine.close()
                tasks = asyncio.all_tasks(self.loop) if not self.loop.is_closed() else set()
                for task in tasks:
                    task.cancel()
                if tasks:
                    self.loop.run_until_complete(_gather(*tasks, return_exceptions=True))
                self.engine.close(wait=True)
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
                self.loop.close()
                self.store.close()
            finally:
                logging.getLogger("wnod.engine").removeHandler(self.errors)
                shutil.rmtree(self.tmp, ignore_errors=True)


TestHostMachine = HostMachine.TestCase
TestHostMachine.settings = settings(
    # A few thousand in CI; dev/soak runs as many as it is told (WNOD_STATEFUL_EXAMPLES).
    max_examples=int(os.environ.get("WNOD_STATEFUL_EXAMPLES") or (2000 if os.environ.get("CI") else 150)),
    stateful_step_count=30,
    # The same examples in every CI run, so that a red run is the code's, not the draw's; dev/soak
    # draws afresh every time to look for new interleavings.
    derandomize=bool(os.environ.get("CI")) and not os.environ.get("WNOD_STATEFUL_EXAMPLES"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # dev/soak keeps what it finds, so the next run tries it first; the suite starts afresh.
    database=None if not os.environ.get("WNOD_STATEFUL_DATABASE") else settings.default.database,
)
