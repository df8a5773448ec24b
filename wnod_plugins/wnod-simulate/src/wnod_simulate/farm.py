"""The simulated farm: hosts that decide each job as wnod's own ``place()`` does, a
first-come-first-served queue per pool of hosts, and a clock that jumps from event to event.

What a host does with a job is what the daemon's engine code decides
(``wnod_core.engine.placement``): reuse an idle VWN of the job's type, make a new one within
the host's capacity, or evict idle VWNs that cannot serve it first; and, at the job's end, whether
its VWN is worth keeping. The simulation finds that answer in its indexes (index.py) rather
than by asking ``place()``, which looks at every VWN of a host; with ``check=True`` it asks
``place()`` and ``worth_keeping()`` beside them at every decision and stops at the first
difference (crosscheck.py). The batch system around it is modelled, not real:

- a job waits in its pool's queue, in order of submission; the first in the queue goes to a
  host whose ``place()`` takes it, else nobody behind it starts (no backfilling);
- where it is offered is the setup's `dispatch`. "informed": first to a host with an idle VWN
  that may serve it, then to the first host with room for a new one, then to the first with
  idle VWNs to evict: the best a batch system could do that knew each host's VWNs and the job's
  type. "weights": to the first host that takes it in the order of the bait weights the daemons
  set (``wnod_core.engine.steering``, lightest first, then in host order), as Slurm allocates
  by node Weight. "blind": to the first host that takes it in host order, as Slurm does with
  every node at one weight. (A real batch system may also send a job to a bait whose host
  cannot place it, which hands it back to be dispatched again: that round trip is not
  modelled, so "blind" is kinder than a real one, and so are "weights" for full hosts);
- a new VWN's job starts once it has booted (the boot model); a reused one's at once;
- an idle VWN is destroyed exactly when its idle TTL runs out (the daemon notices it at its
  next round); destroying takes no time, and boots never fail.
"""

import itertools
import math
import random
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from heapq import heappop, heappush

import attrs
from wnod_core.engine.placement import owner_key
from wnod_core.engine.steering import room_for, weight
from wnod_core.model import HostCapacity, VmType, VwnState
from wnod_core.model.units import MAX_SECONDS

from .boot import NO_TIME, BootModel, BootTime, Fixed
from .crosscheck import Crosscheck, Decision, check_moves
from .index import Choice, Host, Kind, PoolIndex, SimVwn


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
    dispatch: str = "informed"
    """Which host a job is offered to (see the module's doc): one of `DISPATCH`."""


DISPATCH = ("informed", "weights", "blind")


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
    checked: int = 0
    """With ``check``: the decisions ``place()`` was asked beside the indexes (each agreed)."""
    decisions: list[Decision] = attrs.field(factory=list)
    """With ``check``: every job placed and every job's end, in the order the farm decided them."""


def simulate(setup: FarmSetup, jobs: Sequence[SimJob], timeline: bool = False, check: bool = False) -> Outcome:
    """Replay `jobs` (in order of submission, each of a type some pool takes) on the farm of `setup`."""
    return _Farm(setup, len(jobs), timeline, check).run(jobs)


_END, _CLEANED = 0, 1
"""The heap's events, in the order they are handled when they fall at the same time; idle TTLs
running out come after both, and arrivals after all."""

_BOOTING, _READY, _IDLE, _DESTROYED = VwnState.BOOTING, VwnState.READY, VwnState.IDLE, VwnState.DESTROYED
"""Read at every move: looking a member up on its enum costs more than the move."""
_RAN = {_BOOTING: (_READY, VwnState.RUNNING, VwnState.CLEANING),
        _READY: (VwnState.RUNNING, VwnState.CLEANING)}
"""By its state as its job ends, a VWN's moves since: a new one was booting until then (its job
started as soon as it could), a reused one ready."""
_KEPT = {state: (*moves, _IDLE) for state, moves in _RAN.items()}
"""The same, for a VWN kept idle at once (no scratch reset to wait for)."""
_GONE = (VwnState.DESTROYING, _DESTROYED)
_NO_VICTIMS: list[SimVwn] = []
"""Shared by every choice that evicts nothing: never changed."""
_NEVER = math.inf
_LAST = sys.float_info.max
"""Later than any event: what the clock runs to once every job has come."""


class _Farm:
    def __init__(self, setup: FarmSetup, jobs: int, timeline: bool, check: bool):
        self.rng = random.Random(setup.seed)
        self.reset = setup.reset
        self.fixed_reset = setup.reset.seconds if isinstance(setup.reset, Fixed) else None
        self.out = Outcome(starts=[math.nan] * jobs, ends=[0] * jobs, changes=[] if timeline else None)
        owner: dict[str, int] = {}  # VM type -> the first pool that takes it
        for i, pool in enumerate(setup.pools):
            for name in setup.vm_types if pool.vm_types is None else pool.vm_types:
                if name in setup.vm_types:
                    owner.setdefault(name, i)
        self.kinds: dict[str, Kind] = {}
        by_ttl: dict[float, OrderedDict[SimVwn, None]] = {}
        hosts = 0
        for i, pool in enumerate(setup.pools):
            types = {name: setup.vm_types[name] for name, taker in owner.items() if taker == i}
            index = PoolIndex(pool.capacity, {(t.vcpus, t.memory) for t in types.values()}, len(owner), hosts,
                              pool.hosts)
            hosts += pool.hosts
            for name, vm_type in types.items():  # a kind each: a VM type, or one size of a sized one
                ttl = vm_type.reuse.idle_ttl
                expiring = by_ttl.setdefault(ttl, OrderedDict()) if ttl < MAX_SECONDS else None
                self.kinds[name] = Kind(vm_type, len(self.kinds), index, setup.boot.of(vm_type.name), expiring)
        self.expiring = list(by_ttl.items())
        """Per idle TTL, the idle VWNs of the types that keep them that long, in the order they went
        idle: the order their TTLs run out in, the first the next to. Cheaper than timers in the
        heap, which a VWN reused before its TTL would leave behind."""
        self.soonest: SimVwn | None = None
        self.next_expiry = math.inf
        """The idle VWN whose TTL runs out next, and when."""
        self.events: list[tuple] = []
        self.seq = itertools.count()
        self.vwn_count = 0
        self.check = Crosscheck(setup.vm_types, self.out, hosts) if check else None
        if setup.dispatch not in DISPATCH:
            raise ValueError(f"unknown dispatch {setup.dispatch!r}; expected one of {', '.join(DISPATCH)}")
        self.dispatch = setup.dispatch
        self.pool_types = {id(kind.pool): [] for kind in self.kinds.values()}
        for name, kind in self.kinds.items():
            if name == kind.name:  # the site's VM types, not their sizes: what a daemon counts room by
                self.pool_types[id(kind.pool)].append(kind.vm_type)
        """Per pool, its VM types: the room of a host, as its daemon counts it for its weight."""
        self.weights: dict[int, dict[tuple[int, int, int, int], int]] = {}
        """Per pool, the weight of each (idle VWNs, VWNs, vCPUs, memory) a host held."""

    # -- the clock ---------------------------------------------------------------------------------

    def run(self, jobs: Sequence[SimJob]) -> Outcome:
        events = self.events
        for job in jobs:
            submit = job.submit
            if (events and events[0][0] <= submit) or self.next_expiry <= submit:
                self._until(submit)
            self._arrive(job)
        self._until(_LAST)
        return self.out

    def _until(self, time: float) -> None:
        """Everything that happens up to `time`, included, in order: at one time, job ends, then
        scratch resets done, then idle TTLs run out (arrivals come after all)."""
        events = self.events
        while True:
            first = events[0][0] if events else _NEVER
            if first <= self.next_expiry:
                if first > time:
                    return
                now, what, _, vwn = heappop(events)
                if what == _END:
                    self._end(vwn, now)
                else:
                    self._move(vwn, now, _IDLE)
                    self._idle(vwn, now)
                if vwn.host.pool.queue:
                    self._after(vwn.host, now)
            elif self.next_expiry <= time:
                self._expire(self.soonest)
            else:
                return

    def _expire(self, vwn: SimVwn) -> None:
        """`vwn`'s idle TTL runs out: it is destroyed."""
        self._destroy(vwn)
        # No job is asked: the first waiting was refused by every host with this VWN idle, so
        # evicting it made no room; its going makes none either.
        queue = vwn.host.pool.queue
        if self.check and queue:
            self.check.choice(vwn.host.pool, self.kinds[queue[0].vm_type], queue[0], None)

    def _rearm(self) -> None:
        """The VWN whose TTL ran out next is idle no more: which one's does now."""
        self.soonest, self.next_expiry = None, math.inf
        for ttl, idle in self.expiring:
            if idle:
                first = next(iter(idle))
                if first.updated_at + ttl < self.next_expiry:
                    self.soonest, self.next_expiry = first, first.updated_at + ttl

    # -- jobs --------------------------------------------------------------------------------------

    def _arrive(self, job: SimJob) -> None:
        kind = self.kinds[job.vm_type]
        queue = kind.pool.queue
        changes = self.out.changes
        if changes is not None:
            changes.append((job.submit, 0, 1))
        if queue:  # first come, first served: it waits behind the first, for whom nothing changed
            queue.append(job)
            return
        choice = self._offer(kind.pool, kind, job)
        if self.check:
            self.check.choice(kind.pool, kind, job, choice, self._checked_order(kind.pool))
        if choice is None:
            queue.append(job)
            return
        self._take(choice, kind, job, job.submit)
        if changes is not None:
            changes.append((job.submit, 0, -1))

    def _after(self, host: Host, now: float) -> None:
        """`host` changed: the jobs waiting in its pool's queue that now start."""
        pool = host.pool
        queue = pool.queue
        job = queue[0]
        kind = self.kinds[job.vm_type]
        # Every host refused it, and none but `host` changed since: only `host` may take it now.
        choice = self._ask(host, kind, job)
        while True:
            if self.check:
                self.check.choice(pool, kind, job, choice, self._checked_order(pool))
            if choice is None:
                return
            queue.popleft()
            self._take(choice, kind, job, now)
            if self.out.changes is not None:
                self.out.changes.append((now, 0, -1))
            if not queue:
                return
            job = queue[0]
            kind = self.kinds[job.vm_type]
            choice = self._offer(pool, kind, job)

    def _offer(self, pool: PoolIndex, kind: Kind, job: SimJob) -> Choice:
        """Where the farm's order puts `job`, if anywhere: informed, a host with an idle VWN that may
        serve it (in the order they got their first), else the first with room, else the first to
        evict; else the first host that takes it in the dispatch's order."""
        if self.dispatch == "weights":
            # Mostly the lightest host takes the job (any host with room or idle VWNs takes one
            # that fits): the whole order only when it does not.
            choice = self._ask(min(pool.hosts, key=self._weigher(pool)), kind, job)
            if choice is not None:
                return choice
        if self.dispatch != "informed":
            for host in self.order(pool):
                choice = self._ask(host, kind, job)
                if choice is not None:
                    return choice
            return None
        hosts = pool.hosts
        key = owner_key(kind.vm_type, job.user, job.group)
        warm = pool.warm[kind.index]
        takers = warm.get(key)
        if not takers and key is not None:
            takers = warm.get(None)
        if takers:
            host = hosts[next(iter(takers))]
            return host, host.reusable(kind, key), _NO_VICTIMS
        host = pool.first_with_room(kind)
        if host is not None:
            return host, None, _NO_VICTIMS
        for position in pool.with_idle:
            host = hosts[position]
            victims = host.victims(kind)
            if victims:
                return host, None, victims
        return None

    def _checked_order(self, pool: PoolIndex) -> Sequence[Host] | None:
        return None if self.dispatch == "informed" else self.order(pool)

    def order(self, pool: PoolIndex) -> Sequence[Host]:
        """The pool's hosts in the order a blind or weighted dispatch offers them a job."""
        return pool.hosts if self.dispatch == "blind" else sorted(pool.hosts, key=self._weigher(pool))

    def _weigher(self, pool: PoolIndex):  # type: ignore[no-untyped-def]
        """A host's place in the weighted order: its bait weight as its daemon sets it (from the
        VWNs it holds and how many are idle: few distinct values, each computed once), then its
        place in the pool."""
        types, capacity = self.pool_types[id(pool)], pool.capacity
        memo = self.weights.setdefault(id(pool), {})

        def key(host: Host) -> tuple[int, int]:
            held = (len(host.idle), len(host.vwns), host.vcpus, host.memory)
            w = memo.get(held)
            if w is None:
                w = memo[held] = weight(held[0], room_for(held[1:], types, capacity))
            return w, host.position
        return key

    def _ask(self, host: Host, kind: Kind, job: SimJob) -> Choice:
        """What `host` alone does with `job`, in ``place()``'s order."""
        key = owner_key(kind.vm_type, job.user, job.group)
        reused = host.reusable(kind, key)
        if reused is not None:
            return host, reused, _NO_VICTIMS
        if kind.too_big:
            return None
        if host.fits(kind):
            return host, None, _NO_VICTIMS
        victims = host.victims(kind)
        return (host, None, victims) if victims else None

    def _take(self, choice: Choice, kind: Kind, job: SimJob, now: float) -> None:
        """Do what `choice` says, as the engine does what ``place()`` answers."""
        host, vwn, victims = choice
        out = self.out
        weights = ()
        if self.check and self.dispatch == "weights":  # as they were when the job came
            key = self._weigher(host.pool)
            weights = tuple(key(h)[0] for h in host.pool.hosts)
        reused = vwn is not None
        if vwn is not None:
            host.unfile(vwn)
            if vwn is self.soonest:
                self._rearm()
            if self.check:
                check_moves(vwn, _READY)
            vwn.state = _READY  # _move() without its call
            vwn.updated_at = now
            vwn.job = job.index
            vwn.reuse_count += 1
            vwn.last_user = job.user
            vwn.last_group = job.group
            out.reuses += 1
            start = now
        else:
            if victims:
                # As the engine does: destroy the victims first, then ask again.
                for victim in victims:
                    self._destroy(victim)
                out.evictions += len(victims)
                if self.check:
                    self.check.evicted(host, kind, job)
            self.vwn_count += 1
            vwn = SimVwn(f"vwn{self.vwn_count}", kind, host, heappop(host.free_slots), job.index, job.user,
                         job.group, now)
            host.add(vwn)
            boot = kind.boot.draw(self.rng) if kind.fixed_boot is None else kind.fixed_boot
            out.boots += 1
            out.boot_core_seconds += boot * kind.vcpus
            start = now + boot
        out.starts[job.index] = start
        out.busy_core_seconds += job.run * kind.vcpus
        end = start + job.run
        if end > out.last_end:  # noqa: PLR1730 (max() would be one more call a job)
            out.last_end = end
        if out.changes is not None:
            out.changes += [(start, kind.vcpus, 0), (end, -kind.vcpus, 0)]
        heappush(self.events, (end, _END, next(self.seq), vwn))
        if self.check:
            self.check.took(job, vwn, reused, victims, now, weights)

    def _end(self, vwn: SimVwn, now: float) -> None:
        self.out.ends[vwn.job] += 1
        kind = vwn.kind
        # worth_keeping(), of which nothing but the reuse count can change in a simulation.
        keep = vwn.reuse_count < kind.max_reuses
        if self.check:
            self.check.keep(vwn, keep, now)
        if not keep:
            self._destroy(vwn, _RAN[vwn.state])
            return
        vwn.job = None
        if kind.scratch_reset:
            reset = self.reset.draw(self.rng) if self.fixed_reset is None else self.fixed_reset
            if reset > 0:
                self.out.reset_core_seconds += reset * kind.vcpus
                self._move(vwn, now, *_RAN[vwn.state])
                heappush(self.events, (now + reset, _CLEANED, next(self.seq), vwn))
                return
        if self.check:
            check_moves(vwn, *_KEPT[vwn.state])
        vwn.state = _IDLE  # those moves, made at once: _move() without its call
        vwn.updated_at = now
        self._idle(vwn, now)

    # -- VWNs --------------------------------------------------------------------------------------

    def _move(self, vwn: SimVwn, now: float, *states: VwnState) -> None:
        """`vwn` after the moves `states`, made at once (in check mode, each checked as legal)."""
        if self.check:
            check_moves(vwn, *states)
        vwn.state = states[-1]
        vwn.updated_at = now

    def _idle(self, vwn: SimVwn, now: float) -> None:
        vwn.host.file(vwn)
        if vwn.kind.expiring is not None:
            at = now + vwn.kind.idle_ttl  # the upkeep destroys it once now - updated_at >= idle_ttl
            if at < self.next_expiry:
                self.soonest, self.next_expiry = vwn, at

    def _destroy(self, vwn: SimVwn, before: tuple[VwnState, ...] = ()) -> None:
        """Gone from its host, after the moves `before` (none: from where it is)."""
        if vwn.state is _IDLE:
            vwn.host.unfile(vwn)
            if vwn is self.soonest:
                self._rearm()
        if self.check:
            check_moves(vwn, *before, *_GONE)
        vwn.state = _DESTROYED
        vwn.host.remove(vwn)
