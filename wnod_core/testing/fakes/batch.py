"""An in-memory batch system, for testing the engine and anything else that drives a ``BatchSystem``.

A test tool, not a product feature: wnod never runs jobs through it. It keeps every
promise of the ``BatchSystem`` interface exactly (the contract suite proves it), so code
that works against it works against an adapter that keeps them too.
"""

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import attrs

from ...errors import BatchSystemError, JobNotFound
from ...interfaces import BaitOutcome, BaitRequest, BaitSide, BatchHost, BatchSystem, HookInput
from ...model import JobFacts, JobState
from .recording import Recorded
from .store import PLAIN, Codec, MemoryStore, Store, attrs_codec

NAME = "fake"
"""The plugin name of the fake, and the ``batch_system`` of the facts it reports."""

JOB_ID_VAR = "WNOD_FAKE_JOB_ID"
"""The fake's own job-start hook variable naming the job (its ``SLURM_JOB_ID`` or ``LSB_JOBID``)."""
BAIT_HOST_VAR = "WNOD_FAKE_BAIT_HOST"
"""The fake's own job-start hook variable naming the bait the job was dispatched to."""

EXIT_CODES: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.MIGRATED: 10,
    BaitOutcome.REFUSED: 20,
    BaitOutcome.RETRY: 30,
}
"""Every outcome its own code, so a test can tell from the code alone what ``wnod bait`` decided."""

def read_hook(hook: HookInput) -> BaitRequest:
    """The fake's bait side reads its own hook variables, ``WNOD_FAKE_JOB_ID`` and ``WNOD_FAKE_BAIT_HOST``."""
    missing = [var for var in (JOB_ID_VAR, BAIT_HOST_VAR) if not hook.environ.get(var)]
    if missing:
        raise BatchSystemError(
            f"fake: the job-start hook environment lacks {' and '.join(missing)};"
            " was wnod bait run by the fake batch system's hook?"
        )
    return BaitRequest(job_id=hook.environ[JOB_ID_VAR], bait_host=hook.environ[BAIT_HOST_VAR])


BAIT_SIDE = BaitSide.by_exit_code(read_hook, EXIT_CODES)
"""The fake's bait side (its plugin record's ``bait``): each outcome its own exit code."""

_INTERFACE = (
    "job_facts",
    "host_ready",
    "migrate",
    "close_host",
    "steer",
    "reserve_cpus",
    "end_reservation",
    "reservations",
    "open_host",
    "release",
    "hold",
    "fail",
    "hosts",
)


@attrs.frozen
class _Host:
    name: str
    joins_at: float | None = None
    """When its batch daemon registered, or will (``register_host`` with a delay); None: not joined.
    Each registration is a new incarnation of the name: a new VWN in an old slot registers anew."""
    lost_at: float | None = None
    """When its batch daemon stopped answering (its VWN died or was destroyed): the batch system
    still shows it registered for ``remember_for`` seconds, as Slurm does until SlurmdTimeout."""
    closed: bool = False
    """Remembered even before the host registers: wnod may close a VWN's name ahead of its joining."""
    weight: int = 1
    """Its scheduling weight (``steer``), lowest first, as Slurm's node Weight (1 by default)."""
    cpus: int | None = None
    """A node of bare-metal jobs (``declare_node``): its CPUs, shared by its jobs and wnod's
    reservations (mixed mode); None for baits and VWNs, whose jobs the fake does not count."""
    reserved: tuple[tuple[str, int], ...] = ()
    """Its reservations (``reserve_cpus``): (name, CPUs), which none of its jobs may use."""

    def registered(self, now: float) -> bool:
        return self.joins_at is not None and self.joins_at <= now

    def answering(self, now: float) -> bool:
        return self.registered(now) and self.lost_at is None


_JOB_CODEC: Codec[JobFacts] = attrs_codec(JobFacts)
_HOST_CODEC: Codec[_Host] = attrs_codec(_Host)


class FakeBatchSystem(Recorded, BatchSystem):
    """A batch system held in memory, for tests only. Thread-safe: the engine calls it from threads.

    Tests drive it as the batch system's users, admins and daemons would:
    ``submit`` jobs, ``register_host`` VWNs as their batch daemon joins, ``dispatch_to_bait``
    and ``bait_exited`` for the job-start hook, ``start``, ``finish`` and ``cancel`` jobs.
    Nothing dispatches a job by itself: a job starts when the test calls ``start``.

    Its rules, where a real system has its own:

    - a host accepts a job if it is registered and either open, or closed but the job
      is bound to it by ``migrate`` (wnod closes a VWN to every job but its own);
    - a job bound by ``migrate`` starts on that host and on no other;
    - ``hold`` takes a pending job, or one whose bait hook runs (it leaves the bait);
    - ``fail`` ends the job as FINISHED, ``cancel`` as CANCELLED; both keep its facts
      readable until ``purge``, after which the fake no longer knows it (``JobNotFound``);
    - its bait side (``BAIT_SIDE``, its plugin record's) reads the fake's own hook variables,
      ``WNOD_FAKE_JOB_ID`` and ``WNOD_FAKE_BAIT_HOST``, and gives each outcome its own exit code.

    As strict as real systems, by default (kindness only as an explicit option):

    - ``migrate`` binds the job and takes it off wherever it runs, its bait or any host;
    - a binding survives the batch system's own requeue of the job (``requeue``);
    - ``release`` of a job running where ``migrate`` bound it takes it off that host, back to
      pending (as the adapters do: Slurm's requeuehold, LSF's brequeue, PBS's qrerun);
    - a host whose batch daemon stops answering (``unregister_host``) is still shown registered,
      and its job running, for ``remember_for`` seconds (300, as Slurm's SlurmdTimeout; 0 forgets
      at once); then its job is requeued, still bound to it;
    - each ``register_host`` is a new incarnation of the name, and ``host_ready(name, since)``
      counts no registration from before `since`.
    - a node of bare-metal jobs (``declare_node``) starts a job only on CPUs neither its running
      jobs nor wnod's reservations hold, and ``reserve_cpus`` refuses CPUs its jobs hold (Slurm:
      "Requested nodes are busy").

    Every interface call is logged (``calls``) and can be failed once, for a number of calls or
    for a while (``fail_next``, ``fail_for``), slowed so that its effect lands after its caller
    gave up (``slow_next``), or held back (``before``) by the test.

    Its state lives in `store`: in memory by default; ``SharedFakeBatchSystem`` keeps it in
    a SQLite file that other processes share. `clock` (wall-clock seconds) times the
    delayed joins of ``register_host``.
    """

    name = NAME
    """The ``batch_system`` of the facts it reports."""

    def __init__(
        self, store: Store | None = None, *, clock: Callable[[], float] = time.time, remember_for: float = 300.0
    ) -> None:
        super().__init__(_INTERFACE)
        self._store: Store = MemoryStore() if store is None else store
        self._clock = clock
        self.remember_for = remember_for
        """Seconds a host whose batch daemon stopped answering still shows as registered (Slurm's
        SlurmdTimeout is 300 s): strict by default; 0 for a batch system that forgets at once."""
        self._jobs = self._store.table("batch.jobs", _JOB_CODEC)
        self._bound = self._store.table("batch.bound", PLAIN)
        """Job id -> the host ``migrate`` bound it to."""
        self._on_bait = self._store.table("batch.on_bait", PLAIN)
        """Job id -> the bait whose job-start hook is running for it."""
        self._hosts = self._store.table("batch.hosts", _HOST_CODEC)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._store.transaction(write=True):
            self._forget_lost_hosts()
            yield

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._store.transaction(write=True):
            self._forget_lost_hosts()
        with self._store.transaction(write=False):
            yield

    def _forget_lost_hosts(self) -> None:
        """Hosts silent for longer than ``remember_for`` are down at last: the jobs they ran are
        requeued, each keeping its binding (a real batch system keeps a requeued job's node list)."""
        now = self._clock()
        for name, host in list(self._hosts.items()):
            if host.lost_at is None or now < host.lost_at + self.remember_for:
                continue
            for job_id, job in list(self._jobs.items()):
                if job.state is JobState.RUNNING and name in job.exec_hosts and job_id not in self._on_bait:
                    self._jobs[job_id] = attrs.evolve(job, state=JobState.PENDING, exec_hosts=())
            self._hosts[name] = attrs.evolve(host, joins_at=None, lost_at=None)

    # -- driving it, as the batch system's users, admins and daemons -------------------------------

    def submit(
        self,
        user: str,
        *,
        groups: Sequence[str] = (),
        queue: str = "",
        uid: int | None = None,
        cpus: int = 1,
        memory: int | None = None,
        walltime: int | None = None,
        requested_vm_type: str | None = None,
        movable: bool = True,
    ) -> JobFacts:
        """Queue a new pending job owned by `user`; returns its facts, with a fresh job id.
        `movable` False: a job submitted not to be rerun, which ``migrate`` cannot take off a host."""
        with self._writing():
            job_id = str(self._store.next_number("batch.job_id", 1001))
            while job_id in self._jobs:
                job_id = str(self._store.next_number("batch.job_id", 1001))
            facts = JobFacts(
                batch_system=self.name,
                job_id=job_id,
                user=user,
                groups=tuple(groups),
                queue=queue,
                uid=uid,
                cpus=cpus,
                memory=memory,
                walltime=walltime,
                requested_vm_type=requested_vm_type,
                movable=movable,
            )
            self._jobs[job_id] = facts
            return facts

    def add_job(self, facts: JobFacts, bound_to: str | None = None) -> None:
        """Put a job in exactly as given (a running job found at a restart, say); replaces one of its id."""
        with self._writing():
            self._jobs[facts.job_id] = attrs.evolve(facts, batch_system=self.name)
            self._on_bait.pop(facts.job_id, None)
            if bound_to is None:
                self._bound.pop(facts.job_id, None)
            else:
                self._bound[facts.job_id] = bound_to

    def register_host(self, hostname: str, *, delay: float = 0.0) -> None:
        """`hostname`'s batch daemon registers: from now on (or `delay` seconds from now) the host is ready.

        A new incarnation of the name (its registration time is now), whatever was there before;
        keeps a close made earlier.
        """
        with self._writing():
            host = self._host(hostname)
            self._hosts[hostname] = attrs.evolve(host, joins_at=self._clock() + delay, lost_at=None)

    def unregister_host(self, hostname: str) -> None:
        """`hostname`'s batch daemon stops answering (its VWN died or was destroyed, or only the
        daemon died while the domain runs). The batch system notices ``remember_for`` seconds later:
        until then it shows the host registered, and the job running there running; then the job is
        requeued, still bound to `hostname`."""
        with self._writing():
            host = self._host(hostname)
            if host.joins_at is not None and host.lost_at is None:
                self._hosts[hostname] = attrs.evolve(host, lost_at=self._clock())

    batch_daemon_dies = unregister_host

    def requeue(self, job_id: str) -> None:
        """The batch system puts a started job back to pending (its node failed, an admin's
        requeue): a binding wnod made survives it, as bindings made by changing the job do."""
        with self._writing():
            job = self._known(job_id)
            if job.state is not JobState.RUNNING:
                raise BatchSystemError(f"fake: cannot requeue job {job_id}: it is {job.state}")
            self._on_bait.pop(job_id, None)
            self._jobs[job_id] = attrs.evolve(job, state=JobState.PENDING, exec_hosts=())

    def dispatch_to_bait(self, job_id: str, bait_host: str) -> dict[str, str]:
        """Dispatch a pending job to `bait_host`, where its job-start hook now runs.

        The job reads as running on the bait until ``bait_exited`` or ``migrate``. Returns the
        environment the fake's hook would give ``wnod bait``.
        """
        with self._writing():
            job = self._known(job_id)
            if job.state is not JobState.PENDING:
                raise BatchSystemError(f"fake: cannot dispatch job {job_id} to a bait: it is {job.state}")
            if job_id in self._bound:
                raise BatchSystemError(f"fake: job {job_id} is bound to {self._bound[job_id]}, not to a bait")
            self._jobs[job_id] = attrs.evolve(job, state=JobState.RUNNING, exec_hosts=(bait_host,))
            self._on_bait[job_id] = bait_host
            return self.hook_environ(job_id, bait_host)

    @staticmethod
    def hook_environ(job_id: str, bait_host: str) -> dict[str, str]:
        """The environment the fake's job-start hook passes for `job_id` on `bait_host`."""
        return {JOB_ID_VAR: job_id, BAIT_HOST_VAR: bait_host}

    def bait_exited(self, job_id: str, exit_code: int) -> None:
        """The hook on the bait exited with `exit_code`; the fake does what that code means.

        Released: the job runs on the bait. Refused: the job ends (unless wnod ended it
        already). Retry or migrated: the job goes back to pending; after ``migrate`` it
        already left the bait and nothing changes. Any other code is an error, as the fake
        gives no meaning to it.
        """
        outcomes = {code: outcome for outcome, code in EXIT_CODES.items()}
        if exit_code not in outcomes:
            raise BatchSystemError(f"fake: exit code {exit_code} of the bait hook means nothing here")
        outcome = outcomes[exit_code]
        with self._writing():
            job = self._known(job_id)
            if self._on_bait.pop(job_id, None) is None or job.state.is_over:
                return
            if outcome is BaitOutcome.RELEASED:
                return
            if outcome is BaitOutcome.REFUSED:
                reason = job.reason or f"refused by the bait hook (exit {exit_code})"
                self._jobs[job_id] = attrs.evolve(job, state=JobState.FINISHED, reason=reason)
            else:
                self._jobs[job_id] = attrs.evolve(job, state=JobState.PENDING, exec_hosts=())

    def start(self, job_id: str, hostname: str | None = None) -> str:
        """Dispatch a pending job, as the scheduler would; returns the host it now runs on.

        A bound job goes to its host (naming another is refused); an unbound one to
        `hostname`, or else to the first accepting host by name. Refused with
        ``BatchSystemError`` when the job is not pending or the host does not accept it.
        """
        with self._writing():
            job = self._known(job_id)
            if job.state is not JobState.PENDING:
                raise BatchSystemError(f"fake: job {job_id} cannot start: it is {job.state}")
            bound = self._bound.get(job_id)
            if bound is not None and hostname not in (None, bound):
                raise BatchSystemError(f"fake: job {job_id} is bound to {bound}, not to {hostname}")
            target = bound or hostname or self._first_accepting()
            if target is None:
                raise BatchSystemError(f"fake: no host accepts job {job_id}")
            host = self._hosts.get(target)
            if host is None or not host.registered(self._clock()):
                raise BatchSystemError(f"fake: job {job_id} cannot start on {target}: it has not joined")
            if not host.answering(self._clock()):
                raise BatchSystemError(f"fake: job {job_id} cannot start on {target}: it does not answer")
            if host.closed and bound != target:
                raise BatchSystemError(f"fake: job {job_id} cannot start on {target}: closed to it")
            if host.cpus is not None and self._free_cpus(host) < job.cpus:
                # Its CPUs are taken by its jobs or wnod's reservations: a real scheduler keeps it pending.
                raise BatchSystemError(f"fake: job {job_id} cannot start on {target}: {self._free_cpus(host)}"
                                       f" CPUs free, it asks {job.cpus}")
            self._jobs[job_id] = attrs.evolve(job, state=JobState.RUNNING, exec_hosts=(target,))
            return target

    def finish(self, job_id: str) -> None:
        """The running job ends; its facts stay readable (as FINISHED) until ``purge``."""
        with self._writing():
            job = self._known(job_id)
            if job.state is not JobState.RUNNING:
                raise BatchSystemError(f"fake: job {job_id} cannot finish: it is {job.state}")
            self._end(job, JobState.FINISHED)

    def cancel(self, job_id: str) -> None:
        """The job's owner cancels it, in whatever state; cancelling an ended job changes nothing."""
        with self._writing():
            job = self._known(job_id)
            if not job.state.is_over:
                self._end(job, JobState.CANCELLED)

    def purge(self, job_id: str) -> None:
        """The batch system forgets the job, as real ones do some time after it ends."""
        with self._writing():
            self._jobs.pop(job_id, None)
            self._bound.pop(job_id, None)
            self._on_bait.pop(job_id, None)

    # -- looking at it -----------------------------------------------------------------------------

    def job(self, job_id: str) -> JobFacts | None:
        """The job's facts as they stand, without logging a call."""
        with self._reading():
            return self._jobs.get(job_id)

    def bound_to(self, job_id: str) -> str | None:
        """The host ``migrate`` bound the job to, if any."""
        with self._reading():
            return self._bound.get(job_id)

    def snapshot(self) -> tuple[dict[str, JobFacts], dict[str, str]]:
        """Every job the fake knows and every binding ``migrate`` made (job id -> host), read at one
        instant: for a test watching a whole farm's jobs, one read rather than one per job."""
        with self._reading():
            return dict(self._jobs.items()), dict(self._bound.items())

    def is_closed(self, hostname: str) -> bool:
        with self._reading():
            host = self._hosts.get(hostname)
            return host is not None and host.closed

    def registered_at(self, hostname: str) -> float | None:
        """When `hostname`'s batch daemon registered (this incarnation of the name), or None while
        it has not: what a system shows as a node's boot or join time, for an emulator to print."""
        with self._reading():
            host = self._hosts.get(hostname)
            return host.joins_at if host is not None and host.registered(self._clock()) else None

    # -- the interface -----------------------------------------------------------------------------

    def job_facts(self, job_id: str) -> JobFacts:
        self._enter("job_facts", job_id)
        with self._reading():
            return self._known(job_id)

    def host_ready(self, hostname: str, since: float) -> bool:
        self._enter("host_ready", hostname, since)
        with self._reading():
            host = self._hosts.get(hostname)
            # A registration from before `since` is an earlier VWN's under the same name.
            return host is not None and host.registered(self._clock()) and host.joins_at >= since

    def migrate(self, job_id: str, hostname: str) -> None:
        self._enter("migrate", job_id, hostname)
        with self._writing():
            job = self._alive(job_id)
            if job.state is JobState.RUNNING and job.exec_hosts == (hostname,) and job_id not in self._on_bait:
                return  # already there: a repeated migrate changes nothing
            if job.state is JobState.RUNNING and not job.movable:
                raise BatchSystemError(f"fake: job {job_id} is not rerunnable: it cannot be taken off"
                                       f" {', '.join(job.exec_hosts)}")
            self._bound[job_id] = hostname
            if job.state is JobState.RUNNING:
                # Taken off wherever it runs, its bait or any other host, as real batch systems
                # do (Slurm's requeuehold acts on a job on any node): back to pending for its VWN.
                self._on_bait.pop(job_id, None)
                self._jobs[job_id] = attrs.evolve(job, state=JobState.PENDING, exec_hosts=())

    def close_host(self, hostname: str) -> None:
        self._enter("close_host", hostname)
        with self._writing():
            self._hosts[hostname] = attrs.evolve(self._host(hostname), closed=True)

    def open_host(self, hostname: str) -> None:
        self._enter("open_host", hostname)
        with self._writing():
            self._hosts[hostname] = attrs.evolve(self._host(hostname), closed=False)

    def steer(self, hostname: str, weight: int) -> bool:
        self._enter("steer", hostname, weight)
        if not 1 <= weight <= 65533:  # scontrol refuses a Weight outside Slurm's range
            raise BatchSystemError(f"fake: weight {weight} of {hostname} out of range")
        with self._writing():
            self._hosts[hostname] = attrs.evolve(self._host(hostname), weight=weight)
        return True

    def reserve_cpus(self, node: str, name: str, cpus: int) -> bool:
        self._enter("reserve_cpus", node, name, cpus)
        with self._writing():
            host = self._hosts.get(node)
            if host is None or host.cpus is None:
                raise BatchSystemError(f"fake: no node {node} of bare-metal jobs (declare_node)")
            if any(n == name for n, _ in host.reserved):
                return True
            free = self._free_cpus(host)
            if free < cpus:  # as Slurm's "Requested nodes are busy": nothing reserved
                raise BatchSystemError(f"fake: node {node} is busy: {free} CPUs free of its jobs, {cpus} asked")
            self._hosts[node] = attrs.evolve(host, reserved=(*host.reserved, (name, cpus)))
        return True

    def end_reservation(self, node: str, name: str) -> None:
        self._enter("end_reservation", node, name)
        with self._writing():
            host = self._hosts.get(node)
            if host is not None:
                self._hosts[node] = attrs.evolve(host, reserved=tuple(r for r in host.reserved if r[0] != name))

    def reservations(self, node: str) -> Sequence[str]:
        self._enter("reservations", node)
        with self._reading():
            host = self._hosts.get(node)
            return [n for n, _ in host.reserved] if host is not None else []

    def declare_node(self, node: str, cpus: int) -> None:
        """A node of bare-metal jobs with `cpus` CPUs, registered and open (mixed mode's)."""
        with self._writing():
            self._hosts[node] = attrs.evolve(self._host(node), cpus=cpus, joins_at=self._clock(), lost_at=None)

    def free_cpus_of(self, node: str) -> int:
        """CPUs of bare-metal node `node` that neither its jobs nor a reservation hold."""
        with self._reading():
            return self._free_cpus(self._hosts[node])

    def _free_cpus(self, host: _Host) -> int:
        assert host.cpus is not None
        used = sum(j.cpus for j in self._jobs.values() if j.state is JobState.RUNNING and host.name in j.exec_hosts)
        return host.cpus - used - sum(c for _, c in host.reserved)

    def weight_of(self, hostname: str) -> int:
        with self._reading():
            host = self._hosts.get(hostname)
            return host.weight if host is not None else 1

    def release(self, job_id: str, reason: str) -> None:
        self._enter("release", job_id, reason)
        with self._writing():
            job = self._known(job_id)
            bound = self._bound.pop(job_id, None)
            if job.state.is_over:
                return
            state, exec_hosts = job.state, job.exec_hosts
            if state is JobState.HELD:
                state = JobState.PENDING
            elif state is JobState.RUNNING and bound is not None and exec_hosts == (bound,):
                # Started where wnod bound it, on a VWN it gave up: back to pending, off that VWN.
                state, exec_hosts = JobState.PENDING, ()
            self._jobs[job_id] = attrs.evolve(job, state=state, exec_hosts=exec_hosts, reason=reason)

    def hold(self, job_id: str, reason: str) -> None:
        self._enter("hold", job_id, reason)
        with self._writing():
            job = self._known(job_id)
            on_bait = self._on_bait.pop(job_id, None) is not None
            if job.state not in (JobState.PENDING, JobState.HELD) and not on_bait:
                raise BatchSystemError(f"fake: cannot hold job {job_id}: it is {job.state}")
            # Held from its bait's hook, the job leaves the bait: that dispatch will not run it.
            self._jobs[job_id] = attrs.evolve(job, state=JobState.HELD, reason=reason, exec_hosts=())

    def fail(self, job_id: str, reason: str) -> None:
        self._enter("fail", job_id, reason)
        with self._writing():
            job = self._known(job_id)
            if not job.state.is_over:
                self._end(attrs.evolve(job, reason=reason), JobState.FINISHED)

    def hosts(self) -> Sequence[BatchHost]:
        self._enter("hosts")
        with self._reading():
            now = self._clock()
            hosts = [h for _, h in sorted(self._hosts.items()) if h.registered(now)]
            running = [j for j in self._jobs.values() if j.state is JobState.RUNNING]
            return [self._batch_host(h, running) for h in hosts]

    # -- inside ------------------------------------------------------------------------------------

    def _known(self, job_id: str) -> JobFacts:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(f"fake: no job {job_id}") from None

    def _alive(self, job_id: str) -> JobFacts:
        """The job, if it has not ended: to the engine an ended job is as gone as a purged one."""
        job = self._known(job_id)
        if job.state.is_over:
            raise JobNotFound(f"fake: job {job_id} is {job.state}")
        return job

    def _host(self, hostname: str) -> _Host:
        """The host as it stands, or a new one never seen; the caller writes back what it changes."""
        return self._hosts.get(hostname) or _Host(hostname)

    def _end(self, job: JobFacts, state: JobState) -> None:
        self._jobs[job.job_id] = attrs.evolve(job, state=state)
        self._bound.pop(job.job_id, None)
        self._on_bait.pop(job.job_id, None)

    def _first_accepting(self) -> str | None:
        now = self._clock()
        return next((n for n, h in sorted(self._hosts.items()) if h.answering(now) and not h.closed), None)

    def _batch_host(self, host: _Host, running: Sequence[JobFacts]) -> BatchHost:
        jobs = tuple(sorted(j.job_id for j in running if host.name in j.exec_hosts))
        state = "closed" if host.closed else ("busy" if jobs else "idle")
        if not host.answering(self._clock()):
            state += " (not responding)"
        return BatchHost(name=host.name, state=state, accepting=not host.closed, jobs=jobs)
