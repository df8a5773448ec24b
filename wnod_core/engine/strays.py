"""Domains wnod made on this host that no record explains: never destroyed on that ground alone.

A VWN may run a user's job. Its record can be missing because the state file was deleted or
truncated, or because the daemon was started with another state directory (by hand, outside
systemd): none of that is a reason to kill the job. So a stray is

- **adopted** when the records are this host's (they hold VWNs, live or gone) or the admin
  said so (``wnod daemon --adopt``): recorded as it is, a VWN with the job the batch system
  shows running in it (followed to its end like any other), or without one (finished like any
  VWN whose job ended: closed to jobs, then kept idle or destroyed);
- **quarantined** while it cannot be adopted yet (the batch system does not answer, its name
  fits no slot, its slot is taken): left running, reported, and tried again every round; the
  host places no new job meanwhile, since it cannot account for its own capacity;
- **destroyed** only on the admin's word (``wnod daemon --reap-strays``, or ``wnod vm destroy``
  of a quarantined one).

A domain whose VWN the records hold as destroyed is no stray: wnod gave up on a ``create``
that then landed, and was killed before it undid it (or the hypervisor said a destroy was done
when it was not). No job can run there (a job is moved only to a VWN recorded ready), so it is
destroyed again, and quarantined while that fails.

A daemon that finds wnod's domains on the host and records that never held a VWN refuses to
start without one of those words: those are not this host's records.
"""

import enum

import attrs

from ..errors import BatchSystemError, HypervisorError, JobNotFound, WnodError
from ..interfaces import DomainInfo, DomainState
from ..model import JobState, Vwn, VwnState
from ..model.events import JobStep
from ..model.flight import JobFlight
from .parts import LOG, Parts


class StrayDecision(enum.StrEnum):
    """What the admin said to do with strays when starting the daemon."""

    NONE = "none"
    """Adopt them if the records are this host's; refuse to start if they never held a VWN."""
    ADOPT = "adopt"
    """Adopt them, whatever the records hold."""
    REAP = "reap"
    """Destroy them, and whatever runs in them."""


class StraysNeedDecision(WnodError):
    """The records hold no VWN, yet wnod's domains run on this host: the admin must decide."""


@attrs.frozen
class Quarantined:
    """A domain of this host with no record, left running until it can be adopted."""

    info: DomainInfo
    why: str


@attrs.frozen
class Settled:
    adopted: tuple[str, ...] = ()
    quarantined: tuple[str, ...] = ()
    reaped: tuple[str, ...] = ()
    destroyed_again: tuple[str, ...] = ()
    """Domains of VWNs recorded destroyed: destroyed again."""


async def settle(parts: Parts, strays: list[DomainInfo], decision: StrayDecision) -> Settled:
    """Adopt, quarantine or (on the admin's word) destroy each of `strays`."""
    p = parts
    recorded = [d for d in strays if p.store.vwn(d.vwn_id) is not None]
    again, still = await _destroy_again(p, recorded)
    strays = [d for d in strays if d not in recorded]
    if not strays:
        return Settled(quarantined=still, destroyed_again=again)
    ids = ", ".join(d.vwn_id for d in strays)
    if decision is StrayDecision.REAP:
        for info in strays:
            LOG.warning("destroying domain %s (%s), as the admin asked (--reap-strays): no record explains it",
                        info.vwn_id, info.hostname or "no host name")
            await p.calls(p.hypervisor.destroy, info.vwn_id)
            p.quarantine.pop(info.vwn_id, None)
        return Settled(reaped=tuple(d.vwn_id for d in strays), quarantined=still, destroyed_again=again)
    if decision is StrayDecision.NONE and not p.store.has_history():
        raise StraysNeedDecision(
            f"{len(strays)} domain(s) wnod made run on host {p.policy.host} ({ids}), but the records in"
            f" {p.store.path} hold no VWN at all: they are not this host's records (a deleted or truncated"
            " file, or another state directory). Nothing was touched. Start the daemon with the state"
            " directory that has them, or decide: `wnod daemon --adopt` keeps these VWNs and follows the"
            " jobs in them, `wnod daemon --reap-strays` destroys them and whatever runs in them."
        )
    adopted, quarantined = [], []
    for info in strays:
        why = await adopt(p, info)
        if why:
            before = p.quarantine.get(info.vwn_id)
            if before is None or before.why != why:
                LOG.error("VWN %s runs on this host without a record; quarantined (left running, no new jobs"
                          " placed on this host until it is settled): %s", info.vwn_id, why)
            p.quarantine[info.vwn_id] = Quarantined(info, why)
            quarantined.append(info.vwn_id)
        else:
            p.quarantine.pop(info.vwn_id, None)
            adopted.append(info.vwn_id)
    return Settled(adopted=tuple(adopted), quarantined=(*still, *quarantined), destroyed_again=again)


async def _destroy_again(p: Parts, domains: list[DomainInfo]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Destroy the domains of VWNs recorded destroyed: (destroyed, quarantined while it fails)."""
    done, failed = [], []
    for info in domains:
        LOG.warning("domain %s runs, but its VWN is recorded destroyed (a create that landed after wnod gave"
                    " up on it): destroying it again", info.vwn_id)
        try:
            await p.calls(p.hypervisor.destroy, info.vwn_id)
        except HypervisorError as exc:
            p.quarantine[info.vwn_id] = Quarantined(info, f"recorded destroyed, its domain still runs;"
                                                          f" destroying it failed, tried again each round: {exc}")
            failed.append(info.vwn_id)
            continue
        p.quarantine.pop(info.vwn_id, None)
        done.append(info.vwn_id)
    return tuple(done), tuple(failed)


async def adopt(p: Parts, info: DomainInfo) -> str:
    """Record `info` as a VWN of this host, with the job the batch system runs in it; "" when
    done, else why it cannot be yet."""
    if info.state not in (DomainState.RUNNING, DomainState.PAUSED):
        return f"its domain is {info.state}; destroy it with `wnod vm destroy {info.vwn_id}` once you have looked"
    slot = _slot_of(p, info.hostname)
    if slot is None:
        return (f"its batch host name {info.hostname!r} is no slot of this host (engine.vwn_hostname,"
                f" host.max_vwns): look at it, then `wnod vm destroy {info.vwn_id}`")
    taken = [v for v in p.store.vwns() if v.slot == slot]
    if taken:
        return f"its slot {slot} ({info.hostname}) is taken by VWN {taken[0].id}: two VWNs under one host name"
    try:
        hosts = await p.calls(p.batch.hosts)
    except BatchSystemError as exc:
        return f"cannot ask the batch system what runs on {info.hostname} yet: {exc}"
    jobs = next((h.jobs for h in hosts if h.name == info.hostname), ())
    if len(jobs) > 1:
        return f"the batch system runs {len(jobs)} jobs on {info.hostname} ({', '.join(jobs)}); a VWN takes one"
    now = p.clock()
    vm_type = p.policy.vm_types.get(info.vm_type)
    flight = None
    if jobs:
        try:
            facts = await p.calls(p.batch.job_facts, jobs[0])
        except JobNotFound:
            facts = None
        except BatchSystemError as exc:
            return f"cannot read job {jobs[0]} running on {info.hostname} yet: {exc}"
        if facts is not None and facts.state is JobState.RUNNING:
            flight = JobFlight(
                job_id=facts.job_id,
                step=JobStep.STARTED,
                bait_host="",
                updated_at=now,
                user=facts.user,
                group=facts.primary_group or "",
                vm_type=info.vm_type,
                vwn_id=info.vwn_id,
                detail=f"found running in VWN {info.vwn_id} ({info.hostname}), which had no record: adopted",
                times=((JobStep.STARTED.value, now),),
            )
    vwn = Vwn(
        id=info.vwn_id,
        host=p.policy.host,
        vm_type=info.vm_type,
        # With its job: followed to its end. Without: finished like a VWN whose job ended.
        state=VwnState.RUNNING if flight else VwnState.CLEANING,
        created_at=now,
        updated_at=now,
        hostname=info.hostname,
        job_id=flight.job_id if flight else None,
        image_version=info.image_version,
        slot=slot,
        # As the hypervisor made it (sized for its job); its type's least size if it does not say.
        vcpus=info.vcpus or (vm_type.vcpus if vm_type else 0),
        memory=info.memory or (vm_type.memory if vm_type else 0),
        last_user=flight.user if flight else "",
        last_group=flight.group if flight else "",
    )
    p.store.adopt(vwn, flight)
    LOG.warning("VWN %s (%s) ran without a record: adopted, %s", vwn.id, vwn.hostname,
                f"following its job {flight.job_id}" if flight else "no job in it; finished like any idle VWN")
    return ""


def _slot_of(p: Parts, hostname: str) -> int | None:
    return p.policy.slot_of(hostname) if hostname else None


async def recheck(parts: Parts) -> None:
    """Each round, while some domain is quarantined: try to adopt it again, as it is now."""
    p = parts
    if not p.quarantine:
        return
    domains = {d.vwn_id: d for d in await p.calls(p.hypervisor.domains)}
    for vwn_id in list(p.quarantine):
        info = domains.get(vwn_id)
        if info is None:
            LOG.info("quarantined VWN %s is gone", vwn_id)
            del p.quarantine[vwn_id]
            continue
        await settle(p, [info], StrayDecision.ADOPT)
