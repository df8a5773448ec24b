"""What ``place()`` would answer on a simulated host, found in a few lookups instead of a look
at every VWN of the host; and which host of a pool takes a job, found without asking every host.

Per host:

- its idle VWNs filed by VM type and by whose jobs they may take (the key ``placement.serves()``
  gives), each such bucket in the order ``place()`` reuses them, and all of them in the order it
  evicts them (least recently used: ``updated_at``, then ``id``);
- the vCPUs, memory and VWNs it holds, and those its idle VWNs hold, as running sums; its free
  slots, lowest first.

Per pool:

- the hosts with idle VWNs of each bucket, and the hosts with idle VWNs at all;
- per size of VWN, a heap of the hosts that may have room for one: every host that has is in it;
  one found to have none when it comes first is dropped, until a VWN of its goes (cheaper than
  looking at every size each time a VWN is made).

Buckets are kept in lists by VM type (at its ``Kind.index``), then in dicts by key: no pair of
the two is made and hashed at each job.

A VM type's image version and size never change in a simulation, so every idle VWN of the job's
type that may serve its owner is one ``place()`` would reuse. With ``check=True``, crosscheck.py
asks ``place()`` beside these at every decision and stops at the first difference.
"""

from bisect import bisect_left, insort
from collections import OrderedDict, deque
from heapq import heappop, heappush

from wnod_core.engine.placement import serves
from wnod_core.model import HostCapacity, VmType, VwnState

from .boot import BootTime, Fixed

_BOOTING = VwnState.BOOTING
"""Looking a member up on its enum costs more than making the VWN."""

Key = str | None
"""Whose jobs idle VWNs may take, as ``placement.serves()`` files them: None for anyone's."""


class Kind:
    """A VM type of the farm as the simulation reads it at each decision: plain attributes."""

    __slots__ = ("boot", "expiring", "fixed_boot", "idle_ttl", "index", "max_reuses", "memory", "name",
                 "pool", "room", "scratch_reset", "size", "too_big", "vcpus", "vm_type")

    def __init__(self, vm_type: VmType, index: int, pool: "PoolIndex", boot: BootTime,
                 expiring: "OrderedDict[SimVwn, None] | None"):
        self.vm_type = vm_type
        self.index = index
        """Of the farm's VM types: where the indexes keep its buckets."""
        self.name = vm_type.name
        self.vcpus = vm_type.vcpus
        self.memory = vm_type.memory
        self.max_reuses = vm_type.reuse.max_reuses
        self.idle_ttl = vm_type.reuse.idle_ttl
        self.scratch_reset = vm_type.reuse.scratch_reset
        self.boot = boot
        self.fixed_boot = boot.seconds if isinstance(boot, Fixed) else None
        """The boot time when it is fixed: no draw, no call."""
        self.pool = pool
        capacity = pool.capacity
        self.too_big = self.vcpus > capacity.vcpus or self.memory > capacity.memory
        self.size = pool.sizes.index((self.vcpus, self.memory))
        self.room = pool.rooms[self.size]
        """The heap of its pool's hosts that may have room for a new VWN of its size."""
        self.expiring = expiring
        """The farm's idle VWNs of the types with its idle TTL, in the order they went idle (None: it
        keeps them for ever)."""


class SimVwn:
    """A VWN as the simulation moves it: mutable, unlike the engine's records, which
    crosscheck.py makes of it to ask ``place()``."""

    __slots__ = ("created_at", "host", "id", "job", "key", "kind", "last_group", "last_user", "reuse_count",
                 "slot", "state", "updated_at")

    def __init__(self, id: str, kind: Kind, host: "Host", slot: int, job: int, user: str, group: str,
                 now: float):
        self.id = id
        self.kind = kind
        self.host = host
        self.state = _BOOTING
        self.created_at = now
        self.updated_at = now
        self.job: int | None = job
        self.reuse_count = 0
        self.slot = slot
        self.last_user = user
        self.last_group = group
        self.key: Key = None
        """Where it is filed while it is idle (and was, since)."""


Choice = tuple["Host", SimVwn | None, list[SimVwn]] | None
"""What the farm does with a job, as ``place()`` would answer on the host it picks: (host, the
idle VWN it reuses or None to make one, the idle VWNs it evicts first), or None: the job waits."""


def _file_among_ties(order: dict[SimVwn, None], vwn: SimVwn) -> None:
    """Put `vwn`, idle from now, in `order` after every VWN idle since before, or since now with a
    smaller id: ``place()`` orders them by (``updated_at``, ``id``)."""
    later: list[SimVwn] = []
    while order:
        last = next(reversed(order))
        if last.updated_at != vwn.updated_at or last.id < vwn.id:
            break
        later.append(last)
        del order[last]
    order[vwn] = None
    for other in reversed(later):
        order[other] = None


class Host:
    """A hypervisor host of the farm: its VWNs, and the indexes ``place()``'s answer is read from."""

    __slots__ = ("buckets", "capacity", "free_slots", "idle", "idle_memory", "idle_since", "idle_vcpus",
                 "index", "listed", "memory", "pool", "position", "unlisted", "vcpus", "vwns")

    def __init__(self, index: int, position: int, pool: "PoolIndex"):
        self.index = index
        """Farm-wide: names it in the records, and where its peaks are kept."""
        self.position = position
        """In its pool: what the pool's indexes hold, and the order hosts are asked in."""
        self.pool = pool
        self.capacity = pool.capacity
        self.vwns: set[SimVwn] = set()
        """Every VWN alive on it."""
        self.vcpus = 0
        self.memory = 0
        self.free_slots = list(range(1, pool.capacity.max_vwns + 1))
        """A heap: the first free slot is the one ``place()`` gives."""
        self.idle: dict[SimVwn, None] = {}
        """Every idle VWN, least recently used first: the order evictions take them in."""
        self.buckets: list[dict[Key, dict[SimVwn, None]]] = [{} for _ in range(pool.kinds)]
        """Idle VWNs by VM type and key, least recently used first: the order reuse takes them in."""
        self.idle_vcpus = 0
        self.idle_memory = 0
        self.idle_since = -1.0
        """When a VWN last went idle here: only then can two be idle since the same time."""
        self.listed = [True] * len(pool.sizes)
        """Per size of the pool: whether it is in that size's heap of hosts that may have room."""
        self.unlisted = 0

    # -- what place() would answer -----------------------------------------------------------------

    def reusable(self, kind: Kind, key: Key) -> SimVwn | None:
        """The idle VWN ``place()`` reuses for a job of `kind` whose owner's key is `key`: the least
        recently used of those the job may take (filed under its key, or under anyone's)."""
        buckets = self.buckets[kind.index]
        mine = buckets.get(key)
        first = next(iter(mine)) if mine else None
        if key is not None:
            theirs = buckets.get(None)
            if theirs:
                other = next(iter(theirs))
                if first is None or (other.updated_at, other.id) < (first.updated_at, first.id):
                    first = other
        return first

    def fits(self, kind: Kind) -> bool:
        return self.has_room(kind.vcpus, kind.memory)

    def has_room(self, vcpus: int, memory: int) -> bool:
        capacity = self.capacity
        return (len(self.vwns) < capacity.max_vwns and self.vcpus + vcpus <= capacity.vcpus
                and self.memory + memory <= capacity.memory)

    def victims(self, kind: Kind) -> list[SimVwn] | None:
        """The idle VWNs ``place()`` evicts for a new VWN of `kind`, least recently used first, as few
        as make room (None: evicting every one is not enough)."""
        capacity = self.capacity
        vwns, vcpus, memory = len(self.vwns), self.vcpus, self.memory
        if (kind.too_big or vwns - len(self.idle) >= capacity.max_vwns
                or vcpus - self.idle_vcpus + kind.vcpus > capacity.vcpus
                or memory - self.idle_memory + kind.memory > capacity.memory):
            return None
        victims = []
        for victim in self.idle:
            victims.append(victim)
            vwns -= 1
            vcpus -= victim.kind.vcpus
            memory -= victim.kind.memory
            if (vwns < capacity.max_vwns and vcpus + kind.vcpus <= capacity.vcpus
                    and memory + kind.memory <= capacity.memory):
                break
        return victims

    # -- keeping the indexes -----------------------------------------------------------------------

    def add(self, vwn: SimVwn) -> None:
        """A new VWN, in the slot it took off `free_slots`."""
        self.vwns.add(vwn)
        self.vcpus += vwn.kind.vcpus
        self.memory += vwn.kind.memory
        # It may have no room left for some size: it stays in that size's heap till it comes first.

    def remove(self, vwn: SimVwn) -> None:
        """`vwn` is gone (no longer idle: ``unfile`` first)."""
        self.vwns.remove(vwn)
        self.vcpus -= vwn.kind.vcpus
        self.memory -= vwn.kind.memory
        heappush(self.free_slots, vwn.slot)
        if self.unlisted:
            listed = self.listed
            for size, (vcpus, memory) in enumerate(self.pool.sizes):
                if not listed[size] and self.has_room(vcpus, memory):
                    listed[size] = True
                    self.unlisted -= 1
                    heappush(self.pool.rooms[size], self.position)

    def file(self, vwn: SimVwn) -> None:
        """`vwn` is idle from now (its `updated_at`): where reuse and eviction will find it."""
        kind = vwn.kind
        # serves() reads the VWN's last owner, which SimVwn keeps under the record's names.
        key = vwn.key = serves(vwn, kind.vm_type)
        idle = self.idle
        if not idle:
            insort(self.pool.with_idle, self.position)
        buckets = self.buckets[kind.index]
        order = buckets.get(key)
        if not order:
            if order is None:  # kept once empty: the same owners' VWNs come back to the same hosts
                order = buckets[key] = {}
            warm = self.pool.warm[kind.index]
            hosts = warm.get(key)
            if hosts is None:
                hosts = warm[key] = {}
            hosts[self.position] = None
        if vwn.updated_at == self.idle_since:
            _file_among_ties(idle, vwn)
            _file_among_ties(order, vwn)
        else:
            self.idle_since = vwn.updated_at
            idle[vwn] = None
            order[vwn] = None
        self.idle_vcpus += kind.vcpus
        self.idle_memory += kind.memory
        if kind.expiring is not None:
            kind.expiring[vwn] = None

    def unfile(self, vwn: SimVwn) -> None:
        """`vwn` is idle no more: reused, evicted or past its TTL."""
        del self.idle[vwn]
        if not self.idle:
            del self.pool.with_idle[bisect_left(self.pool.with_idle, self.position)]
        kind = vwn.kind
        self.idle_vcpus -= kind.vcpus
        self.idle_memory -= kind.memory
        if kind.expiring is not None:
            del kind.expiring[vwn]
        order = self.buckets[kind.index][vwn.key]
        del order[vwn]
        if not order:
            del self.pool.warm[kind.index][vwn.key][self.position]


class PoolIndex:
    """A pool's hosts, its queue, and which of its hosts may do what for a job."""

    __slots__ = ("capacity", "hosts", "kinds", "queue", "rooms", "sizes", "warm", "with_idle")

    def __init__(self, capacity: HostCapacity, sizes: set[tuple[int, int]], kinds: int, first_index: int,
                 hosts: int):
        self.capacity = capacity
        self.kinds = kinds
        """How many VM types the farm has (not all this pool's): the length of the bucket lists."""
        self.queue: deque = deque()
        """Jobs waiting, first come first: while it is not empty, every host refused the first."""
        self.warm: list[dict[Key, dict[int, None]]] = [{} for _ in range(kinds)]
        """Hosts with idle VWNs of a bucket, by VM type and key, in the order they got their first."""
        self.sizes = sorted(sizes)
        """(vCPUs, memory) of the VWNs its hosts make."""
        self.rooms: list[list[int]] = [list(range(hosts)) for _ in self.sizes]
        """Per size, the heap of hosts that may have room for a new VWN of it (at first all)."""
        self.with_idle: list[int] = []
        """Hosts with idle VWNs, in order."""
        self.hosts = [Host(first_index + i, i, self) for i in range(hosts)]

    def first_with_room(self, kind: Kind) -> Host | None:
        """The first host with room for a new VWN of `kind`: those found to have none on the way
        are dropped from its size's heap (a VWN of theirs that goes puts them back)."""
        room = kind.room
        while room:
            host = self.hosts[room[0]]
            if host.has_room(kind.vcpus, kind.memory):
                return host
            heappop(room)
            host.listed[kind.size] = False
            host.unlisted += 1
        return None
