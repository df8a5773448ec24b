"""The simulated farm: hosts that place each job by wnod's own ``place()``, a first-come-first-served
queue per pool of hosts, and a clock that jumps from event to event.

What a host does with a job is decided by the daemon's engine code itself
(``wnod_core.engine.placement``): reuse an idle VWN of the job's type, make a new one within
the host's capacity, or evict idle VWNs of other types first; and, at the job's end, whether
its VWN is worth keeping. The batch system around it is modelled, not real:

- a job waits in its pool's queue, in order of submission; the first in the queue goes to a
  host whose ``place()`` takes it, else nobody behind it starts (no backfilling);
- it is offered first to a host with an idle VWN that may serve it, then to the first host
  with room for a new one, then to the first with idle VWNs to evict: the best a batch system
  could do that knew each host's VWNs (a real one picks a bait blindly, and a host that cannot
  place the job hands it back to be dispatched again: that round trip is not modelled);
- a new VWN's job starts once it has booted (the boot model); a reused one's at once;
- an idle VWN is destroyed exactly when its idle TTL runs out (the daemon notices it at its
  next round); destroying takes no time, and boots never fail.

Indexes of which hosts have idle VWNs or room only choose whom to ask first: a host left out
is one whose ``place()`` could only answer Full (checked when ``check=True``).
"""

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Mapping, Sequence

import attrs
from wnod_core.engine.placement import Create, Evict, Full, Reuse, place, size_of, worth_keeping
from wnod_core.model import HostCapacity, ReuseScope, VmType, Vwn, VwnState, legal_moves
from wnod_core.model.units import MAX_SECONDS

from .boot import NO_TIME, BootModel, BootTime


@attrs.frozen
class SimJob:
    index: int
    submit: float
    run: float
    vm_type: str
    user: str
    group: str


@attrs.frozen
class Pool:
    """Hosts that take the jobs of some VM types (all: None), each with the same capacity."""

    hosts: int
    capacity: HostCapacity
    vm_types: frozenset[str] | None = None


@attrs.frozen
class FarmSetup:
    vm_types: Mapping[str, VmType]
    """As the simulated hosts' config has them (a policy may change their reuse)."""
    pools: tuple[Pool, ...]
    boot: BootModel = BootModel(NO_TIME)
    reset: BootTime = NO_TIME
    """How long a kept VWN restarts on a fresh scratch disk after its job (types with scratch_reset)."""
    seed: int = 0


@attrs.define
class Outcome:
    """What happened to every job and VWN, for results.py to sum up."""

    starts: list[float]
    """When each job started (NaN: never)."""
    ends: list[int]
    """How many times each job ended: exactly once, every one."""
    boots: int = 0
    reuses: int = 0
    evictions: int = 0
    busy_core_seconds: float = 0.0
    boot_core_seconds: float = 0.0
    reset_core_seconds: float = 0.0
    last_end: float = 0.0
    changes: list[tuple[float, int, int]] | None = None
    """With a timeline: (time, change of busy vCPUs, change of queued jobs), in no order."""
    peaks: list[tuple[int, int, int]] = attrs.field(factory=list)
    """With ``check``: per host, the most (vCPUs, memory, VWNs) its VWNs ever held at once."""


_END, _CLEANED, _TTL = 0, 1, 2
"""Events, in the order they are handled when they fall at the same time (all before arrivals)."""


class _Host:
    __slots__ = ("index", "position", "capacity", "vwns", "vcpus", "memory", "idle")

    def __init__(self, index: int, position: int, capacity: HostCapacity):
        self.index = index
        """Farm-wide: where its peaks are kept."""
        self.position = position
        """In its pool: what the pool's lists hold."""
        self.capacity = capacity
        self.vwns: dict[str, Vwn] = {}
        self.vcpus = 0
        self.memory = 0
        self.idle = 0


class _Pool:
    __slots__ = ("hosts", "queue", "open", "with_idle", "warm")

    def __init__(self, hosts: list[_Host]):
        self.hosts = hosts
        self.queue: deque[SimJob] = deque()
        self.open = [h.position for h in hosts]
        """Hosts with a free VWN slot, in order: the first with room is asked first."""
        self.with_idle: list[int] = []
        self.warm: dict[tuple[str, str], dict[int, int]] = {}
        """(VM type, whose jobs it may serve) -> hosts with such idle VWNs -> how many."""


def simulate(setup: FarmSetup, jobs: Sequence[SimJob], timeline: bool = False, check: bool = False) -> Outcome:
    """Replay `jobs` (in order of submission, each of a type some pool takes) on the farm of `setup`."""
    return _Farm(setup, len(jobs), timeline, check).run(jobs)


def _move(vwn: Vwn, now: float, *states: VwnState, **changes: object) -> Vwn:
    """`vwn` after the moves `states`, made at once: the steps between that take no simulated time
    are checked against the VWN's table of legal moves, as the engine's records check them."""
    return attrs.evolve(vwn, state=_check_moves(vwn, *states), updated_at=now, version=vwn.version + len(states),
                        **changes)


def _check_moves(vwn: Vwn, *states: VwnState) -> VwnState:
    state = vwn.state
    for step in states:
        if step not in legal_moves(state):
            raise AssertionError(f"VWN {vwn.id}: cannot go from {state} to {step}")
        state = step
    return state


def _scope_key(vm_type: VmType, user: str, group: str) -> str:
    scope = vm_type.reuse.reuse_scope
    return user if scope is ReuseScope.USER else group if scope is ReuseScope.GROUP else ""


class _Farm:
    def __init__(self, setup: FarmSetup, jobs: int, timeline: bool, check: bool):
        self.setup = setup
        self.vm_types = setup.vm_types
        self.rng = random.Random(setup.seed)
        self.check = check
        self.out = Outcome(starts=[math.nan] * jobs, ends=[0] * jobs, changes=[] if timeline else None)
        self.pools: list[_Pool] = []
        self.pool_of: dict[str, _Pool] = {}
        self.all_hosts: list[_Host] = []
        for pool in setup.pools:
            hosts = [_Host(len(self.all_hosts) + i, i, pool.capacity) for i in range(pool.hosts)]
            self.all_hosts += hosts
            state = _Pool(hosts)
            self.pools.append(state)
            for name in setup.vm_types if pool.vm_types is None else pool.vm_types:
                self.pool_of.setdefault(name, state)
        self.out.peaks = [(0, 0, 0)] * len(self.all_hosts)
        self.events: list[tuple] = []
        self.seq = 0
        self.vwn_count = 0

    # -- the clock ---------------------------------------------------------------------------------

    def run(self, jobs: Sequence[SimJob]) -> Outcome:
        events = self.events
        pop = heapq.heappop
        for job in jobs:
            while events and events[0][0] <= job.submit:
                self._handle(pop(events))
            self._arrive(job)
        while events:
            self._handle(pop(events))
        return self.out

    def _at(self, time: float, kind: int, *payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, *payload))

    def _handle(self, event: tuple) -> None:
        now, kind, _, pool, host, vwn_id, *rest = event
        if kind == _END:
            self._end(pool, host, vwn_id, rest[0], now)
        elif kind == _CLEANED:
            vwn = host.vwns[vwn_id]
            self._idle(pool, host, _move(vwn, now, VwnState.IDLE), now)
        else:
            vwn = host.vwns.get(vwn_id)
            # Only if it stayed idle since: the version moves with every move it makes.
            if vwn is not None and vwn.version == rest[0] and vwn.state is VwnState.IDLE:
                self._destroy(pool, host, vwn)
        self._dispatch(pool, now)

    # -- jobs --------------------------------------------------------------------------------------

    def _arrive(self, job: SimJob) -> None:
        pool = self.pool_of[job.vm_type]
        pool.queue.append(job)
        if self.out.changes is not None:
            self.out.changes.append((job.submit, 0, 1))
        self._dispatch(pool, job.submit)

    def _dispatch(self, pool: _Pool, now: float) -> None:
        queue = pool.queue
        while queue and self._offer(pool, queue[0], now):
            queue.popleft()
            if self.out.changes is not None:
                self.out.changes.append((now, 0, -1))

    def _offer(self, pool: _Pool, job: SimJob, now: float) -> bool:
        vm_type = self.vm_types[job.vm_type]
        hosts = pool.hosts
        warm = pool.warm.get((job.vm_type, _scope_key(vm_type, job.user, job.group)))
        if warm:
            for i in warm:
                if self._place(pool, hosts[i], job, vm_type, now):
                    return True
        for i in pool.open:
            host = hosts[i]
            if host.vcpus + vm_type.vcpus <= host.capacity.vcpus and host.memory + vm_type.memory <= host.capacity.memory:
                if self._place(pool, host, job, vm_type, now):
                    return True
        for i in pool.with_idle:
            if self._place(pool, hosts[i], job, vm_type, now):
                return True
        if self.check:
            for host in hosts:
                answer = place(vm_type, list(host.vwns.values()), self.vm_types, host.capacity,
                               owner=(job.user, job.group))
                assert isinstance(answer, Full), f"host {host.index} was not asked, but would answer {answer}"
        return False

    def _place(self, pool: _Pool, host: _Host, job: SimJob, vm_type: VmType, now: float) -> bool:
        """Ask `host`'s ``place()``, as the daemon's engine asks it, and do what it says."""
        owner = (job.user, job.group)
        # No VWN is busy, held or lingering: in the simulation no call times out or is in flight.
        answer = place(vm_type, list(host.vwns.values()), self.vm_types, host.capacity, owner=owner)
        while isinstance(answer, Evict):
            # As the engine does: destroy the victims first, then ask again.
            for victim in answer.victims:
                self._destroy(pool, host, victim)
            self.out.evictions += len(answer.victims)
            answer = place(vm_type, list(host.vwns.values()), self.vm_types, host.capacity, owner=owner)
        if isinstance(answer, Full):
            return False
        out = self.out
        if isinstance(answer, Reuse):
            vwn = answer.vwn
            self._not_idle(pool, host, vwn)
            vwn = _move(vwn, now, VwnState.READY, job_id=str(job.index), reuse_count=vwn.reuse_count + 1,
                        last_user=job.user, last_group=job.group)
            out.reuses += 1
            start = now
        else:
            assert isinstance(answer, Create)
            self.vwn_count += 1
            vwn = Vwn(id=f"vwn{self.vwn_count}", host=str(host.index), vm_type=vm_type.name,
                      state=VwnState.BOOTING, created_at=now, updated_at=now, job_id=str(job.index),
                      image_version=vm_type.image_version, slot=answer.slot, vcpus=vm_type.vcpus,
                      memory=vm_type.memory, version=1, last_user=job.user, last_group=job.group)
            if len(host.vwns) + 1 == host.capacity.max_vwns:
                self._unlist(pool.open, host)
            host.vcpus += vm_type.vcpus
            host.memory += vm_type.memory
            boot = self.setup.boot.of(vm_type.name).draw(self.rng)
            out.boots += 1
            out.boot_core_seconds += boot * vm_type.vcpus
            start = now + boot
        host.vwns[vwn.id] = vwn
        out.starts[job.index] = start
        out.busy_core_seconds += job.run * vm_type.vcpus
        end = start + job.run
        if end > out.last_end:
            out.last_end = end
        if out.changes is not None:
            out.changes += [(start, vm_type.vcpus, 0), (end, -vm_type.vcpus, 0)]
        self._at(end, _END, pool, host, vwn.id, job.index)
        if self.check:
            self._measure(host)
        return True

    def _end(self, pool: _Pool, host: _Host, vwn_id: str, job: int, now: float) -> None:
        self.out.ends[job] += 1
        vwn = host.vwns[vwn_id]
        # Booting (or ready) until now: its job started as soon as it could and ran till now.
        ran = (*([VwnState.READY] if vwn.state is VwnState.BOOTING else []), VwnState.RUNNING, VwnState.CLEANING)
        vm_type = self.vm_types[vwn.vm_type]
        # Asked of the VWN as its job leaves it: the moves since change nothing it looks at.
        keep, _ = worth_keeping(vwn, vm_type)
        if not keep:
            self._destroy(pool, host, vwn, *ran)
            return
        reset = self.setup.reset.draw(self.rng) if vm_type.reuse.scratch_reset else 0
        if reset > 0:
            self.out.reset_core_seconds += reset * vm_type.vcpus
            host.vwns[vwn_id] = _move(vwn, now, *ran, job_id=None)
            self._at(now + reset, _CLEANED, pool, host, vwn_id)
        else:
            self._idle(pool, host, _move(vwn, now, *ran, VwnState.IDLE, job_id=None), now)

    # -- VWNs --------------------------------------------------------------------------------------

    def _idle(self, pool: _Pool, host: _Host, vwn: Vwn, now: float) -> None:
        host.vwns[vwn.id] = vwn
        host.idle += 1
        if host.idle == 1:
            self._list(pool.with_idle, host)
        vm_type = self.vm_types[vwn.vm_type]
        key = (vwn.vm_type, _scope_key(vm_type, vwn.last_user, vwn.last_group))
        warm = pool.warm.setdefault(key, {})
        warm[host.position] = warm.get(host.position, 0) + 1
        ttl = vm_type.reuse.idle_ttl
        if ttl < MAX_SECONDS:  # the upkeep destroys an idle VWN once now - updated_at >= idle_ttl
            self._at(now + ttl, _TTL, pool, host, vwn.id, vwn.version)

    def _not_idle(self, pool: _Pool, host: _Host, vwn: Vwn) -> None:
        host.idle -= 1
        if host.idle == 0:
            self._unlist(pool.with_idle, host)
        vm_type = self.vm_types[vwn.vm_type]
        key = (vwn.vm_type, _scope_key(vm_type, vwn.last_user, vwn.last_group))
        warm = pool.warm[key]
        warm[host.position] -= 1
        if not warm[host.position]:
            del warm[host.position]

    def _destroy(self, pool: _Pool, host: _Host, vwn: Vwn, *before: VwnState) -> None:
        """Gone from `host`, after the moves `before` (none: from where it is)."""
        if vwn.state is VwnState.IDLE:
            self._not_idle(pool, host, vwn)
        _check_moves(vwn, *before, VwnState.DESTROYING, VwnState.DESTROYED)
        del host.vwns[vwn.id]
        vcpus, memory = size_of(vwn, self.vm_types)
        host.vcpus -= vcpus
        host.memory -= memory
        if len(host.vwns) + 1 == host.capacity.max_vwns:
            self._list(pool.open, host)

    # -- bookkeeping -------------------------------------------------------------------------------

    @staticmethod
    def _list(hosts: list[int], host: _Host) -> None:
        bisect.insort(hosts, host.position)

    @staticmethod
    def _unlist(hosts: list[int], host: _Host) -> None:
        del hosts[bisect.bisect_left(hosts, host.position)]

    def _measure(self, host: _Host) -> None:
        sizes = [size_of(v, self.vm_types) for v in host.vwns.values()]
        held = (sum(c for c, _ in sizes), sum(m for _, m in sizes), len(sizes))
        assert held[:2] == (host.vcpus, host.memory), f"host {host.index}: counted {host.vcpus, host.memory}, holds {held}"
        self.out.peaks[host.index] = tuple(max(a, b) for a, b in zip(self.out.peaks[host.index], held, strict=True))
