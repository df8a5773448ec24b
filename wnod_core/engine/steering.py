"""Steering the batch system's choice of bait: each host gives its baits a weight from its VWNs,
and a batch system that orders hosts by weight (Slurm: a node's Weight, lowest first) sends the
next job where it is most likely to reuse an idle VWN, or to get a new one at once.

A bait cannot be steered per job: the batch system picks it before wnod knows the job's VM type,
and Slurm's per-job ``--prefer`` of a node feature holds a job pending for the preferred nodes
even while others are free, and forever (BadConstraints) once the feature is gone (Slurm 22.05,
wnod-slurm's tests/test_slurm_steering.py). A host's weight is its own: what any job may find there.

The weight is a pure function of the records, so that the daemon and a simulation of it
(wnod-simulate's "weights" dispatch) order hosts by the very same rule.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import BatchSystemError, PluginError
from ..model import HostCapacity, VmType, Vwn, VwnState
from .placement import size_of, stale

if TYPE_CHECKING:  # parts.py imports the engine's modules
    from .parts import Parts

LOG = logging.getLogger("wnod.engine")

FULL = 1000
"""The weight of a host with neither an idle VWN nor room for a new one: a job sent there waits
for a VWN to end (``engine.full_wait``) or goes back to pending; every other host comes first."""

_TIER = 100
"""Each tier's span: within it, more idle VWNs (or more room) weighs less."""

REFRESH = 300.0
"""Seconds after which a weight is set again though it did not change: the batch system may have
forgotten it (Slurm resets a node's Weight to slurm.conf's on restart or reconfigure)."""


def weight(idle: int, room: int) -> int:
    """The bait weight of a host with `idle` idle VWNs and `room` for that many more VWNs, lowest
    first: idle VWNs and room (a job there reuses one, or gets a new VWN with no eviction); room
    only; idle VWNs only (a job of another type or owner evicts one); neither (`FULL`)."""
    if idle and room:
        return 1 + _TIER - min(idle, _TIER)
    if room:
        return 1 + 2 * _TIER - min(room, _TIER)
    if idle:
        return 1 + 3 * _TIER - min(idle, _TIER)
    return FULL


def room_for(used: tuple[int, int, int], vm_types: Sequence[VmType], capacity: HostCapacity) -> int:
    """How many more VWNs of the type that fits most fit beside `used` (VWNs, vCPUs, memory)."""
    vwns, vcpus, memory = used
    best = 0
    for t in vm_types:
        n = capacity.max_vwns - vwns
        if t.vcpus:
            n = min(n, (capacity.vcpus - vcpus) // t.vcpus)
        if t.memory:
            n = min(n, (capacity.memory - memory) // t.memory)
        best = max(best, n)
    return max(best, 0)


def host_weight(vwns: Sequence[Vwn], vm_types: Mapping[str, VmType], capacity: HostCapacity) -> int:
    """The bait weight of a host whose VWN records are `vwns` (any state)."""
    alive = [v for v in vwns if v.state is not VwnState.DESTROYED]
    sizes = [size_of(v, vm_types) for v in alive]
    used = (len(alive), sum(s[0] for s in sizes), sum(s[1] for s in sizes))
    idle = [v for v in alive if v.state is VwnState.IDLE]
    room = room_for(used, list(vm_types.values()), capacity)
    # With room, only VWNs a job may reuse make a host lighter; without, any idle one makes room.
    return weight(sum(1 for v in idle if not stale(v, vm_types)) if room else len(idle), room)


class Steering:
    """What this host last told the batch system of its baits' weight, so that a round asks the
    batch system only when the weight changed (or `REFRESH` passed)."""

    def __init__(self) -> None:
        self.sent: int | None = None
        self.sent_at = 0.0
        self.unsupported = False
        """The batch system said it has no such order: it is not asked again."""

    async def settle(self, parts: "Parts") -> None:
        """Set the baits' weight as the host's VWNs say now. A refusal is logged and tried again
        next round: the weight only steers, the host's own state decides its jobs."""
        p = parts
        if self.unsupported or not p.policy.baits or not p.policy.engine.steer_baits:
            return
        now = p.clock()
        w = host_weight(p.store.vwns(), p.policy.vm_types, p.policy.capacity)
        if w == self.sent and now - self.sent_at < REFRESH:
            return
        try:
            for bait in p.policy.baits:
                if not await p.calls(p.batch.steer, bait, w):
                    self.unsupported = True
                    LOG.info("the batch system sets no bait weights: jobs go where it sends them")
                    return
        except (BatchSystemError, PluginError) as exc:
            LOG.warning("bait weight %d not set, tried again next round: %s", w, exc)
            return
        if w != self.sent:
            LOG.debug("baits %s weigh %d now", ", ".join(p.policy.baits), w)
        self.sent, self.sent_at = w, now
