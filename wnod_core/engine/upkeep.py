"""The engine's rounds: follow migrated jobs to their end, reap idle and dead VWNs, finish what a
crash interrupted, hand back what could not be handed back yet.

Decisions come from what the batch system and the hypervisor say now, so notices arriving
late, twice or out of order change nothing. Each VWN and each job is looked at on its own
(concurrently, each call bounded by ``engine.plugin_timeout``): one that hangs costs itself,
never the rest of the round.
"""

import asyncio
from collections.abc import Collection

from ..errors import BatchSystemError, HypervisorError, IllegalTransition, JobNotFound
from ..interfaces import DomainState
from ..model import JobState, Vwn, VwnState
from ..model.events import JobStep
from . import giveback, lifecycle, placement
from .parts import LOG, Parts

_AFTER_MIGRATION = (JobStep.MIGRATED, JobStep.STARTED)
_ALIVE = (DomainState.RUNNING, DomainState.PAUSED)
"""Domains that exist and may run again: never destroyed as dead. A paused one takes no job."""


async def check_vwns(parts: Parts) -> None:
    """Every VWN of this host's round, side by side."""
    await asyncio.gather(*(check_vwn(parts, vwn) for vwn in parts.store.vwns()))


async def check_vwn(parts: Parts, vwn: Vwn) -> None:
    """One VWN's round. Passes by a VWN something else acts on (a driver, the admin)."""
    p = parts
    vwn_id = vwn.id
    try:
        async with p.guards.if_free(vwn_id) as free:
            if not free:
                return
            # As it is now, not as the round's list had it: awaits since then let drivers move it.
            now = p.store.vwn(vwn_id)
            if now is None or now.state is VwnState.DESTROYED:
                return
            await _check(p, now)
    except IllegalTransition as exc:
        # Lost a race: something else acted on the VWN between this round's read and its move.
        LOG.info("VWN %s: changed while the round acted on it, looked at again next round: %s", vwn_id, exc)
    except (HypervisorError, BatchSystemError) as exc:
        LOG.warning("VWN %s: round skipped, will try again: %s", vwn_id, exc)
    except Exception:  # a plugin breaking its contract on one VWN must not starve the others
        LOG.exception("VWN %s: round failed, will try again", vwn_id)


async def _check(p: Parts, vwn: Vwn) -> None:
    if vwn.state is VwnState.DESTROYING:
        await lifecycle.destroy(p, vwn, "finishing an earlier destroy")
    elif vwn.state is VwnState.CLEANING:
        await lifecycle.finish(p, vwn, "finishing an earlier clean-up")
    elif vwn.state is VwnState.IDLE:
        await _check_idle(p, vwn)
    else:
        flight = p.store.job(vwn.job_id) if vwn.job_id else None
        if flight is None or flight.is_over or flight.vwn_id != vwn.id:
            # No job in flight owns it: a crash fell between the job's end and the VWN's.
            if vwn.state in (VwnState.READY, VwnState.RUNNING):
                await lifecycle.finish(p, vwn, "no job in flight for it")
            else:
                await lifecycle.destroy(p, vwn, f"{vwn.state} with no job in flight for it")
        elif flight.step in _AFTER_MIGRATION:
            await _follow_job(p, vwn)


async def settle_jobs(parts: Parts, skip: Collection[str] = ()) -> None:
    """Finish the give-backs left under way, and give back every migrated job whose VWN is gone
    or going: it is bound to a host name that no longer serves it (and that the next VWN in the
    same slot gets). Found from the jobs' side, so a daemon killed between a VWN's end and its
    job's give-back still settles the job. Jobs in `skip` have a driver at work: left to it."""
    await asyncio.gather(*(_settle(parts, f.job_id) for f in parts.store.jobs() if f.job_id not in skip))


async def _settle(p: Parts, job_id: str) -> None:
    flight = p.store.job(job_id)  # as it is now: others awaited meanwhile
    if flight is None:
        return
    try:
        if flight.step is JobStep.GIVING_BACK:  # cut short by a kill, or refused by the batch system
            await giveback.finish_give_back(p, flight)
            return
        if flight.step not in _AFTER_MIGRATION:
            return
        vwn = p.store.vwn(flight.vwn_id) if flight.vwn_id else None
        if vwn is not None and vwn.is_alive and vwn.job_id == flight.job_id:
            return
        what = "gone" if vwn is None or vwn.state is VwnState.DESTROYED else (
            "being destroyed" if vwn.state is VwnState.DESTROYING else f"{vwn.state} without it")
        await giveback.give_back(p, flight, JobStep.REQUEUED, f"its VWN {flight.vwn_id} is {what}; back to pending")
    except IllegalTransition as exc:
        LOG.info("job %s: changed while the round acted on it, looked at again next round: %s", job_id, exc)
    except Exception:  # one job's trouble must not stop the others' give-backs
        LOG.exception("job %s: round failed, will try again", job_id)


def prune(parts: Parts) -> int:
    """Forget jobs wnod was done with longer than ``engine.job_retention`` ago (the accounting
    ledger keeps their history)."""
    return parts.store.forget_jobs_before(parts.clock() - parts.policy.engine.job_retention)


async def _check_idle(p: Parts, vwn: Vwn) -> None:
    vm_type = p.policy.vm_types.get(vwn.vm_type)
    keep, reason = lifecycle.worth_keeping(p, vwn)
    if vm_type is None or (not keep and not placement.stale(vwn, p.policy.vm_types)):
        await lifecycle.destroy(p, vwn, reason)
    elif p.clock() - vwn.updated_at >= vm_type.reuse.idle_ttl:
        await lifecycle.destroy(p, vwn, f"idle for longer than {vm_type.reuse.idle_ttl:.0f}s")
    elif (state := await p.calls(p.hypervisor.state, vwn.id)) not in _ALIVE:
        await lifecycle.destroy(p, vwn, f"its domain is {state} while idle")


async def _follow_job(p: Parts, vwn: Vwn) -> None:
    assert vwn.job_id is not None
    flight = p.store.job(vwn.job_id)
    assert flight is not None
    domain = await p.calls(p.hypervisor.state, vwn.id)
    if domain is DomainState.PAUSED:
        return  # paused (by an admin, say): its job waits with it; nothing to decide until it runs again
    if domain is not DomainState.RUNNING:
        await lifecycle.destroy(p, vwn, f"its domain is {domain}")
        await giveback.give_back(p, flight, JobStep.REQUEUED, f"its VWN {vwn.id} died ({domain}); back to pending")
        return
    try:
        facts = await p.calls(p.batch.job_facts, vwn.job_id)
    except JobNotFound:
        detail = "the batch system no longer knows the job"
        await lifecycle.finish(p, vwn, "its job is gone", flight_step=(flight, JobStep.ENDED, {"detail": detail}))
        return
    if facts.state.is_over:
        await lifecycle.finish(p, vwn, f"its job {facts.state}",
                               flight_step=(flight, JobStep.ENDED, {"detail": f"the job {facts.state}"}))
        return
    # Right after the migration a batch system may still show the job on its bait, whose
    # hook has not returned yet: that is not "elsewhere".
    hosts = [h for h in facts.exec_hosts if h != flight.bait_host]
    elsewhere = [h for h in hosts if h != vwn.hostname]
    if stray := lifecycle.stray_name(p, elsewhere):
        # On another VWN of this host, which wnod did not give it (a dead daemon's late binding):
        # back to pending, off it; never "released" to run where no VWN is kept for it.
        await lifecycle.finish(p, vwn, "its job runs on another VWN")
        await giveback.give_back(p, flight, JobStep.REQUEUED,
                                 f"it runs on {', '.join(elsewhere)}, a VWN of this host that wnod did not give it",
                                 stray_on=stray)
        return
    if elsewhere:
        # The batch system ran the job somewhere else after all: the VWN is free again.
        detail = f"the batch system ran it on {', '.join(elsewhere)} instead"
        await lifecycle.finish(p, vwn, "its job runs elsewhere", flight_step=(flight, JobStep.RELEASED, {"detail": detail}))
        return
    if facts.state is JobState.RUNNING and vwn.hostname in hosts:
        if flight.step is JobStep.MIGRATED:
            # The VWN's move and the job's step in one transaction: a kill between the two would
            # leave a running job MIGRATED, given back as never started once bait_timeout passed.
            move = (vwn, VwnState.RUNNING, {}) if vwn.state is VwnState.READY else None
            p.records.commit(move=move, step=(flight, JobStep.STARTED, {"detail": f"running on {vwn.hostname}"}))
        elif vwn.state is VwnState.READY:  # started before a kill cut the pair short (an older wnod)
            p.records.move(vwn, VwnState.RUNNING)
        if not await p.calls(p.batch.host_ready, vwn.hostname, vwn.incarnation):
            p.warn_once(f"{vwn.id} silent", "VWN %s: its batch daemon no longer answers, while job %s still"
                        " shows running there; waiting for the batch system to requeue it", vwn.id, vwn.job_id)
        return
    if flight.step is JobStep.STARTED and facts.state in (JobState.PENDING, JobState.HELD):
        # The batch system put the started job back (its VWN's batch daemon died, an admin's
        # requeue): still bound to this VWN's name, it would wait there for ever. Unbound, given
        # back to be placed afresh; the VWN, whose batch side failed, is not kept.
        await lifecycle.destroy(p, vwn, f"its job was put back to {facts.state} by the batch system")
        await giveback.give_back(p, flight, JobStep.REQUEUED,
                                 f"the batch system put the job back to {facts.state} off VWN {vwn.id}; placed afresh")
        return
    migrated = flight.time_of(JobStep.MIGRATED) or flight.updated_at
    if flight.step is JobStep.MIGRATED and p.clock() - migrated > p.policy.engine.bait_timeout:
        # Moved but never started (the scheduler will not run it there, or its start was lost):
        # it must not hold the VWN for ever. Unbound first; the VWN is freed only once it is.
        flight = await giveback.give_back(
            p, flight, JobStep.REQUEUED,
            f"moved to {vwn.hostname} but not started there within engine.bait_timeout; back to pending",
        )
        if flight.is_over:
            await lifecycle.finish(p, vwn, "its job never started")
