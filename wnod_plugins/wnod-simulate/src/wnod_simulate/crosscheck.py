"""``check=True``: wnod's own ``place()`` and ``worth_keeping()`` asked beside the simulation's
indexes at every decision, on the engine's records of every VWN of the pool; the first
difference stops the simulation with a ``Disagreement``.

The indexes (index.py) are what make the simulation fast, and this is what keeps them the
daemon's decisions: the property tests run their random farms and traces with it. It also
checks every move of a VWN against the VWN's table of legal moves, and that no host ever holds
more than its capacity (its peaks), and journals every decision (``Outcome.decisions``): what real
``wnod daemon`` processes must decide when the same jobs are put to them in the same order (the
cross-check of tests/test_simulate_daemons.py).
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from wnod_core.engine.placement import Create, Evict, Placement, Reuse, Wait, place, size_of, worth_keeping
from wnod_core.model import VmType, Vwn, VwnState, legal_moves

from .index import Choice, Host, Kind, PoolIndex, SimVwn

if TYPE_CHECKING:  # farm.py imports this module
    from .farm import Outcome, SimJob

_PREFERENCE = {"reuse": 0, "create": 1, "evict": 2}
"""Which answer the farm takes first, whichever host gives it."""


class Disagreement(AssertionError):
    """The simulation decided otherwise than the daemon's engine code would: a bug in the simulator."""


@attrs.frozen
class Took:
    """Job `job` was placed on host `host` at `at`: in VWN `vwn`, reused or made in `slot` after
    the idle VWNs `victims` were evicted (least recently used first)."""

    at: float
    job: int
    host: int
    vwn: str
    reused: bool
    slot: int
    victims: tuple[str, ...] = ()
    weights: tuple[int, ...] = ()
    """With the "weights" dispatch, every host's bait weight in its pool as the job came (the
    daemons' rounds set the very same, test_simulate_daemons.py checks)."""


@attrs.frozen
class Left:
    """Job `job` ended at `at` and left VWN `vwn` of host `host`, `kept` idle or destroyed."""

    at: float
    job: int
    host: int
    vwn: str
    kept: bool


Decision = Took | Left


def record(vwn: SimVwn) -> Vwn:
    """The engine's record of `vwn`, as the daemon would hold it."""
    kind = vwn.kind
    return Vwn(id=vwn.id, host=str(vwn.host.index), vm_type=kind.name, state=vwn.state,
               created_at=vwn.created_at, updated_at=vwn.updated_at, job_id=None if vwn.job is None else str(vwn.job),
               reuse_count=vwn.reuse_count, image_version=kind.vm_type.image_version, slot=vwn.slot,
               vcpus=kind.vcpus, memory=kind.memory, last_user=vwn.last_user, last_group=vwn.last_group)
    # Not its version: the simulation counts no moves, and nothing the engine decides reads it.


def check_moves(vwn: SimVwn, *states: VwnState) -> None:
    state = vwn.state
    for step in states:
        if step not in legal_moves(state):
            raise Disagreement(f"VWN {vwn.id}: cannot go from {state} to {step}")
        state = step


def _said(answer: Placement) -> tuple:
    if isinstance(answer, Reuse):
        return ("reuse", answer.vwn.id)
    if isinstance(answer, Create):
        return ("create", answer.slot)
    if isinstance(answer, Evict):
        return ("evict", *(v.id for v in answer.victims))
    return ("wait",) if isinstance(answer, Wait) else ("full",)


def _chose(host: Host, reused: SimVwn | None, victims: list[SimVwn]) -> tuple:
    if reused is not None:
        return ("reuse", reused.id)
    if victims:
        return ("evict", *(v.id for v in victims))
    return ("create", host.free_slots[0])


class Crosscheck:
    """The engine's answers beside the simulation's, on one farm: farm.py calls it where it decides."""

    def __init__(self, vm_types: Mapping[str, VmType], out: "Outcome", hosts: int):
        self.vm_types = vm_types
        self.out = out
        out.peaks = [(0, 0, 0)] * hosts

    def _place(self, host: Host, kind: Kind, job: "SimJob") -> Placement:
        # No VWN is busy, held, lingering or settling: in the simulation no call is in flight.
        return place(kind.vm_type, [record(v) for v in host.vwns], self.vm_types, host.capacity,
                     owner=(job.user, job.group))

    def choice(self, pool: PoolIndex, kind: Kind, job: "SimJob", choice: Choice,
               order: Sequence[Host] | None = None) -> None:
        """`choice` is what ``place()`` answers on its host, and its host the one the farm's order
        picks: one whose ``place()`` reuses a VWN if any does, else the first that makes one, else
        the first that evicts for one (with `order`, a blind or weighted dispatch's: the first in
        it whose ``place()`` takes the job); None only if every host's ``place()`` refuses the job."""
        self.out.checked += 1
        said = {host.position: _said(self._place(host, kind, job)) for host in pool.hosts}
        if choice is None:
            for position, answer in said.items():
                if answer[0] != "full":
                    raise Disagreement(f"job {job.index} waits, but host {pool.hosts[position].index}'s"
                                       f" place() answers {answer}")
            return
        host, reused, victims = choice
        chose = _chose(host, reused, victims)
        if said[host.position] != chose:
            raise Disagreement(f"job {job.index} on host {host.index}: place() answers {said[host.position]},"
                               f" the simulation {chose}")
        if order is not None:
            first_taker = next(h for h in order if said[h.position][0] != "full")
            if first_taker is not host:
                raise Disagreement(f"job {job.index} went to host {host.index} ({chose}), but host"
                                   f" {first_taker.index} answers {said[first_taker.position]} and comes first")
            return
        # Any host that reuses will do (the farm asks them in the order they got their first idle
        # VWN the job may take); else the first in the pool that makes a VWN, else the first to evict.
        first = min(said, key=lambda p: (_PREFERENCE.get(said[p][0], len(_PREFERENCE)), p))
        if said[first][0] != chose[0] or (chose[0] != "reuse" and first != host.position):
            raise Disagreement(f"job {job.index} went to host {host.index} ({chose}), but host"
                               f" {pool.hosts[first].index} answers {said[first]} and comes first")

    def evicted(self, host: Host, kind: Kind, job: "SimJob") -> None:
        """Its victims gone, `host`'s ``place()`` makes the job's VWN in the slot the simulation gives."""
        answer = _said(self._place(host, kind, job))
        if answer != ("create", host.free_slots[0]):
            raise Disagreement(f"job {job.index} on host {host.index}: after its evictions place() answers"
                               f" {answer}, the simulation creates in slot {host.free_slots[0]}")

    def took(self, job: "SimJob", vwn: SimVwn, reused: bool, victims: list[SimVwn], now: float,
             weights: tuple[int, ...] = ()) -> None:
        """`job` went into `vwn` at `now`: journalled, and its host measured."""
        self.out.decisions.append(Took(now, job.index, vwn.host.index, vwn.id, reused, vwn.slot,
                                       tuple(v.id for v in victims), weights))
        self.measure(vwn.host)

    def keep(self, vwn: SimVwn, keep: bool, now: float) -> None:
        """As its job leaves it, `vwn` is kept idle exactly when ``worth_keeping()`` says so."""
        said, why = worth_keeping(record(vwn), vwn.kind.vm_type)
        if said != keep:
            raise Disagreement(f"VWN {vwn.id}: worth_keeping() says {said} ({why}), the simulation {keep}")
        assert vwn.job is not None
        self.out.decisions.append(Left(now, vwn.job, vwn.host.index, vwn.id, keep))

    def measure(self, host: Host) -> None:
        """What `host` holds, summed from its records, is what its running sums say, and its peak."""
        sizes = [size_of(record(v), self.vm_types) for v in host.vwns]
        held = (sum(c for c, _ in sizes), sum(m for _, m in sizes), len(sizes))
        if held[:2] != (host.vcpus, host.memory):
            raise Disagreement(f"host {host.index}: counted {host.vcpus, host.memory}, holds {held}")
        peaks = self.out.peaks
        peaks[host.index] = tuple(max(a, b) for a, b in zip(peaks[host.index], held, strict=True))
