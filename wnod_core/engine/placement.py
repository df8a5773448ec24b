"""Where a job's VWN comes from: an idle one of its type, a new one, soon, or nowhere yet.

Pure functions over the records, so the decision is made in one step on the daemon's
event loop: two baits asking at once can never both take the last slot.
"""

from collections.abc import Collection, Mapping, Sequence

import attrs

from ..model import HostCapacity, ReuseScope, VmType, Vwn, VwnState
from .sizing import made_now


@attrs.frozen
class Reuse:
    vwn: Vwn


@attrs.frozen
class Create:
    slot: int
    """The first free slot: it names the VWN's host name."""


@attrs.frozen
class Evict:
    victims: tuple[Vwn, ...]
    """Idle VWNs of other types to destroy first; then ask again."""


@attrs.frozen
class Wait:
    """No room now, but VWNs being acted on (cleaned after their job, destroyed, looked at by a
    round) will give it within seconds: ask again when one of them is let go."""

    reason: str


@attrs.frozen
class Full:
    reason: str
    lasting: bool = False
    """Never fits this host, whatever frees up (its type is bigger than the host's share): no use waiting."""


Placement = Reuse | Create | Evict | Wait | Full

_SETTLING = (VwnState.IDLE, VwnState.CLEANING, VwnState.DESTROYING)
"""States a VWN being acted on leaves for idle or gone: room for the next job once it is let go."""


def size_of(vwn: Vwn, vm_types: Mapping[str, VmType]) -> tuple[int, int]:
    """(vCPUs, memory) a VWN holds: what it was made with, whatever its type says since a reload.

    A record from before sizes were recorded counts its type's current size; one whose type is
    no longer configured a vCPU and no memory, until it is destroyed (it is never reused).
    """
    if vwn.vcpus:
        return vwn.vcpus, vwn.memory
    vm_type = vm_types.get(vwn.vm_type)
    return (vm_type.vcpus, vm_type.memory) if vm_type else (1, 0)


def has_size_of(vwn: Vwn, vm_type: VmType) -> bool:
    """Whether `vwn` was made a size `vm_type` makes now (unrecorded sizes are taken to match)."""
    return not vwn.vcpus or made_now(vwn.vcpus, vwn.memory, vm_type)


def worth_keeping(vwn: Vwn, vm_type: VmType | None) -> tuple[bool, str]:
    """Whether `vwn`, its job just over, may stay idle for another job of its type (`vm_type`,
    None when that type is no longer configured), and if not, why: a pure decision, so that
    the engine and a simulation of it (wnod-simulate) keep VWNs by the very same rule."""
    if vm_type is None:
        return False, f'VM type "{vwn.vm_type}" is no longer configured'
    if vwn.image_version != vm_type.image_version:
        return False, f'VM type "{vwn.vm_type}" has a new image version ({vm_type.image_version!r})'
    if not has_size_of(vwn, vm_type):
        return False, (
            f'VM type "{vwn.vm_type}" no longer makes VWNs of {vwn.vcpus} vCPUs and {vwn.memory} bytes'
            f" (it is now {_bounds(vm_type)})"
        )
    if vwn.reuse_count >= vm_type.reuse.max_reuses:
        return False, f"it took its last job ({vwn.reuse_count + 1} of {vm_type.reuse.max_reuses + 1})"
    return True, ""


def _bounds(vm_type: VmType) -> str:
    if vm_type.max_vcpus is None and vm_type.max_memory is None:
        return f"{vm_type.vcpus} vCPUs and {vm_type.memory} bytes"
    return (f"{vm_type.vcpus}-{vm_type.max_vcpus or vm_type.vcpus} vCPUs and {vm_type.memory}-"
            f"{vm_type.max_memory or vm_type.memory} bytes in steps of {vm_type.memory_step}")


def stale(vwn: Vwn, vm_types: Mapping[str, VmType]) -> bool:
    """Whether idle `vwn` is of an image version its type no longer gives new VWNs (a publish, a
    rollback, a new label): never reused, but retired lazily, at its next reuse decision (the job
    it would have taken retires it), first when room is needed, or at its idle TTL; not all at
    once, so that a rollback soon after finds its VWNs still warm."""
    vm_type = vm_types.get(vwn.vm_type)
    return vm_type is not None and vwn.image_version != vm_type.image_version


def may_serve(vwn: Vwn, vm_type: VmType, user: str, group: str) -> bool:
    """Whether idle `vwn` may take a job of `user` (primary group `group`), by its type's reuse scope.
    A VWN that never ran a job is anyone's; outside the "user" scope it was restarted after each job."""
    scope = vm_type.reuse.reuse_scope
    if scope is ReuseScope.TYPE or not vwn.last_user:
        return True
    if scope is ReuseScope.GROUP:
        return vwn.last_group == group
    return vwn.last_user == user


_TYPE, _GROUP = ReuseScope.TYPE, ReuseScope.GROUP
"""For serves() and owner_key(), asked at every decision of a simulation: looking a member up on
its enum costs more than the rest of either."""


def serves(vwn: Vwn, vm_type: VmType) -> str | None:
    """Whose jobs idle `vwn` may take, as a key an index can file it under: None for anyone's,
    else its last owner's user or group name, by its type's reuse scope. ``may_serve(vwn,
    vm_type, user, group)`` is exactly ``serves(vwn, vm_type) in (None, owner_key(vm_type, user,
    group))``: a simulation (wnod-simulate) finds the VWNs it allows without asking each one."""
    scope = vm_type.reuse.reuse_scope
    if scope is _TYPE or not vwn.last_user:
        return None
    return vwn.last_group if scope is _GROUP else vwn.last_user


def owner_key(vm_type: VmType, user: str, group: str) -> str | None:
    """Which key of `serves()` marks the idle VWNs of `vm_type` that a job of `user` (primary
    group `group`) may take, besides None (anyone's): None itself where the type's reuse scope
    lets any job of the type take any of them."""
    scope = vm_type.reuse.reuse_scope
    if scope is _TYPE:
        return None
    return group if scope is _GROUP else user


def used_slots(vwns: Sequence[Vwn]) -> set[int]:
    return {vwn.slot for vwn in vwns if vwn.state is not VwnState.DESTROYED and vwn.slot}


def place(
    vm_type: VmType,
    vwns: Sequence[Vwn],
    vm_types: Mapping[str, VmType],
    capacity: HostCapacity,
    busy: Collection[str] = (),
    held_slots: Collection[int] = (),
    owner: tuple[str, str] = ("", ""),
    lingering: Collection[str] = (),
    settling: Collection[str] = (),
) -> Placement:
    """The best home for a job of `vm_type`, owned by `owner` (user, primary group), given every
    VWN of this host (any state). `vm_type` is sized for the job (``sizing.sized()``): an idle VWN
    of its type is reused only if it is of that very size.

    VWNs in `busy` are being acted on (their guard is held): they are neither reused nor
    evicted, but they count against the capacity. Slots in `held_slots` are free but not given
    out: a job may still be bound to their host name, or a late call act on it. VWNs in
    `lingering` are recorded destroyed, but their domain may still exist (a create that timed
    out may make it yet, or it is not destroyed again yet): they hold their room until it is gone.
    VWNs in `settling` (of `busy`) are acted on by a task that lets them go within its calls'
    timeouts: a job that would fit once they are idle or gone is told to wait, not that the host
    is full (a job bounced back to pending waits minutes for its next dispatch).
    """
    size = (vm_type.vcpus, vm_type.memory)
    alive = [v for v in vwns if v.state is not VwnState.DESTROYED or v.id in lingering]
    free = [v for v in alive if v.id not in busy and v.state is not VwnState.DESTROYED]
    idle = [v for v in free if v.state is VwnState.IDLE and v.vm_type == vm_type.name]
    current = [
        v for v in idle
        if v.image_version == vm_type.image_version and size_of(v, vm_types) == size
        and may_serve(v, vm_type, *owner)
    ]
    if current:
        # The one idle longest goes first: the others stay warm and the TTL reaps fewer.
        return Reuse(min(current, key=lambda v: (v.updated_at, v.id)))
    passed_over = [v for v in idle if v.image_version != vm_type.image_version and size_of(v, vm_types) == size
                   and may_serve(v, vm_type, *owner)]
    if passed_over:  # the job would have taken it, were it current: this reuse decision retires it
        return Evict((min(passed_over, key=lambda v: (v.updated_at, v.id)),))
    if vm_type.vcpus > capacity.vcpus or vm_type.memory > capacity.memory:
        return Full(
            f'VM type "{vm_type.name}" needs {vm_type.vcpus} vCPUs and {vm_type.memory} bytes,'
            f" more than this host gives to VWNs ({capacity.vcpus} vCPUs, {capacity.memory} bytes)",
            lasting=True,
        )
    if _fits(vm_type, alive, vm_types, capacity):
        slots = sorted(set(range(1, capacity.max_vwns + 1)) - used_slots(alive) - set(held_slots))
        if slots:
            return Create(slots[0])
    # Evict idle VWNs that cannot serve this job until it fits: those of an old image version
    # first (no job will ever take them), then the least recently used.
    others = sorted(
        (v for v in free if v.state is VwnState.IDLE and v not in current),
        key=lambda v: (not stale(v, vm_types), v.updated_at, v.id),
    )
    victims: list[Vwn] = []
    for victim in others:
        victims.append(victim)
        if _fits(vm_type, [v for v in alive if v not in victims], vm_types, capacity):
            return Evict(tuple(victims))
    soon = [v for v in alive if v.id in settling and v.state in _SETTLING]
    if soon and _fits(vm_type, [v for v in alive if v not in soon and v not in others], vm_types, capacity):
        names = ", ".join(f"{v.id} ({v.state})" for v in soon)
        return Wait(f"this host is full until VWNs being acted on are let go: {names}")
    busy = len(alive)
    return Full(f"this host is full ({busy} VWNs, none idle of type {vm_type.name} or evictable)")


def _fits(vm_type: VmType, alive: Sequence[Vwn], vm_types: Mapping[str, VmType], capacity: HostCapacity) -> bool:
    sizes = [size_of(v, vm_types) for v in alive]
    return capacity.fits(
        used_vcpus=sum(c for c, _ in sizes),
        used_memory=sum(m for _, m in sizes),
        used_vwns=len(alive),
        vcpus=vm_type.vcpus,
        memory=vm_type.memory,
    )
