"""A VWN's end of work: cleaned and kept for its next job, or destroyed; and which slots are free.

Each move is recorded before it is acted on: a VWN is never forgotten while something of it
may remain (it stays DESTROYING until the hypervisor confirms), and never kept while another
job could land on it (a VWN that cannot be closed to new jobs is destroyed).
"""

from collections.abc import Sequence

import attrs

from ..errors import BatchSystemError, HypervisorError
from ..images.rolled_out import disk_of
from ..interfaces import VwnSpec
from ..model import VmType, Vwn, VwnState
from ..model.events import JobStep
from ..text import one_line
from . import mixed, placement
from .calls import host_fence, vwn_fence
from .parts import LOG, Parts


def spec(p: Parts, vwn: Vwn) -> VwnSpec:
    vm_type = p.policy.vm_types[vwn.vm_type]
    if vwn.vcpus and (vwn.vcpus, vwn.memory) != (vm_type.vcpus, vm_type.memory):
        # Sized for its job, or made before a reload resized its type: its own size, to its end.
        vm_type = attrs.evolve(vm_type, vcpus=vwn.vcpus, memory=vwn.memory, max_vcpus=None, max_memory=None)
    # Its own image version, which it keeps to its end, whatever is current on the host now.
    if vm_type.image_version != vwn.image_version:
        vm_type = attrs.evolve(vm_type, image_version=vwn.image_version)
    disk = disk_of(p.policy.library, vm_type, vwn.image_version)
    return VwnSpec(vwn_id=vwn.id, vm_type=vm_type, host=p.policy.host,
                   hostname=vwn.hostname or p.policy.hostname(vwn.slot), image_disk=disk)


def worth_keeping(p: Parts, vwn: Vwn) -> tuple[bool, str]:
    return placement.worth_keeping(vwn, p.policy.vm_types.get(vwn.vm_type))


async def destroy(p: Parts, vwn: Vwn, why: str) -> Vwn:
    """Record the intent, destroy the domain and its disk, record it gone.

    If the hypervisor fails, the VWN stays DESTROYING and the upkeep tries again: it is never
    forgotten while something of it may remain. A destroy that times out fences the VWN and
    its host name until it ends.
    """
    if vwn.state is VwnState.DESTROYED:
        return vwn
    async with p.guards.acting_on(vwn.id):
        # As it is now that it is ours: the round may have finished this very destroy while we
        # waited for the guard (an eviction records its victims DESTROYING before it gets here).
        vwn = p.store.vwn(vwn.id) or vwn
        if vwn.state is VwnState.DESTROYED:
            return vwn
        if vwn.state is not VwnState.DESTROYING:
            # The job stays on the record until the VWN is gone: a daemon killed meanwhile still
            # knows whose VWN it was (the rounds requeue a migrated job whose VWN is going).
            vwn = p.records.move(vwn, VwnState.DESTROYING)
        LOG.info("destroying VWN %s (%s): %s", vwn.id, vwn.hostname, why)
        try:
            await p.calls(p.hypervisor.destroy, vwn.id, fences=_fences(vwn))
        except HypervisorError as exc:
            LOG.warning("VWN %s not destroyed yet, will try again: %s", vwn.id, exc)
            return vwn
        vwn = p.records.move(vwn, VwnState.DESTROYED, job_id=None)
        await mixed.end(p, vwn.id)  # gone: its CPUs are the bare-metal jobs' again
        return vwn


async def finish(p: Parts, vwn: Vwn, why: str, flight_step: tuple | None = None) -> Vwn:
    """The VWN's job is over (or never came): close it, then keep it idle or destroy it.

    `flight_step` (flight, step, changes): the job's step recorded in the same transaction as
    the VWN's move to CLEANING, so that no kill leaves one without the other."""
    async with p.guards.acting_on(vwn.id):
        vwn = p.store.vwn(vwn.id) or vwn  # as it is now that it is ours
        if vwn.state in (VwnState.READY, VwnState.RUNNING):
            vwn, _ = p.records.commit(move=(vwn, VwnState.CLEANING, {"job_id": None}), step=flight_step)
        elif flight_step is not None:
            p.records.commit(step=flight_step)
        if vwn.state is not VwnState.CLEANING:
            return vwn
        await mixed.end(p, vwn.id)  # its job is over: an idle VWN holds no CPU from bare-metal jobs
        if vwn.hostname:
            try:
                await p.calls(p.batch.close_host, vwn.hostname, fences=[host_fence(vwn.hostname)])
            except BatchSystemError as exc:
                # A VWN that may still take jobs must not be kept: another job could land on it.
                return await destroy(p, vwn, f"could not be closed to new jobs: {exc}")
        keep, reason = worth_keeping(p, vwn)
        if not keep:
            return await destroy(p, vwn, f"{why}; {reason}")
        vm_type: VmType = p.policy.vm_types[vwn.vm_type]
        changes = {}
        if vm_type.reuse.scratch_reset:
            restarted = p.clock()
            try:
                await p.calls(p.hypervisor.reset_scratch, vwn.id, fences=_fences(vwn))
            except HypervisorError as exc:
                return await destroy(p, vwn, f"scratch disk could not be reset: {one_line(exc)}")
            # The guest restarted: only a registration from now on is its batch daemon's.
            changes["booted_at"] = restarted
        return p.records.move(vwn, VwnState.IDLE, **changes)


async def unassign(p: Parts, vwn: Vwn) -> Vwn:
    """An idle VWN given to a job that could then not take it (mixed mode: its CPUs are the
    bare-metal jobs' now): idle again as it was, its reuse not counted and no reset (no job ran)."""
    async with p.guards.acting_on(vwn.id):
        vwn = p.store.vwn(vwn.id) or vwn
        if vwn.state is not VwnState.READY:
            return vwn
        vwn = p.records.move(vwn, VwnState.CLEANING, job_id=None, reuse_count=max(0, vwn.reuse_count - 1))
        return p.records.move(vwn, VwnState.IDLE)


def held_slots(p: Parts) -> set[int]:
    """Slots not to give out now, though no alive VWN holds them:

    - slots of gone VWNs whose host name a job may still be bound to (moved there, or handed
      back after a migrate there that may have landed, and not confirmed back by the batch
      system yet): a new VWN there would get the name, and the job with it;
    - slots whose host name a call that timed out may still act on (a late close, migrate, create);
    - slots whose host name a job being handed back runs on, though wnod never put it there.
    """
    # Asked at every placement: one query for the few such jobs, not a read of every job in
    # flight and of each one's VWN (that made a burst of placements quadratic).
    steps = (JobStep.MIGRATED, JobStep.STARTED, JobStep.GIVING_BACK)
    held = {
        vwn.slot
        for flight, vwn in p.store.jobs_of_destroyed_vwns(steps)
        if flight.step is JobStep.GIVING_BACK or flight.time_of(JobStep.MIGRATED) is not None
    }
    if strays := p.store.stray_names():
        held |= {s for s in range(1, p.policy.capacity.max_vwns + 1) if p.policy.hostname(s) in strays}
    if p.calls.abandoned:
        held |= {s for s in range(1, p.policy.capacity.max_vwns + 1) if p.calls.fenced(host_fence(p.policy.hostname(s)))}
    return held


def vwn_names(p: Parts) -> set[str]:
    """Every host name this host gives its VWNs (one per slot)."""
    return {p.policy.hostname(slot) for slot in range(1, p.policy.capacity.max_vwns + 1)}


def stray_name(p: Parts, hosts: Sequence[str]) -> str:
    """The first of `hosts` (where the batch system runs a job) that is one of this host's VWN
    names ("" if none): a job there that wnod did not put there holds that name."""
    names = vwn_names(p)
    return next((h for h in hosts if h in names), "")


def lingering(p: Parts) -> list[Vwn]:
    """VWNs recorded destroyed whose domain may still exist: a create of theirs timed out and may
    still make it, or made it and is not destroyed again yet. Their room is not given out."""
    if not p.calls.abandoned:
        return []
    records = (p.store.vwn(vwn_id) for vwn_id in p.calls.fenced_vwns())
    return [v for v in records if v is not None and v.state is VwnState.DESTROYED]


def _fences(vwn: Vwn) -> list[str]:
    return [vwn_fence(vwn.id), *([host_fence(vwn.hostname)] if vwn.hostname else [])]
