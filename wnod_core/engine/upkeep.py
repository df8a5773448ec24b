"""The engine's rounds: follow migrated jobs to their end, reap idle and dead VWNs,
finish what a crash interrupted. Decisions come from what the batch system and the
hypervisor say now, so notices arriving late, twice or out of order change nothing."""

from collections.abc import Collection

from ..errors import BatchSystemError, HypervisorError, IllegalTransition, JobNotFound
from ..interfaces import DomainState
from ..model import JobState, Vwn, VwnState
from ..model.events import JobStep
from .parts import LOG, Parts

_AFTER_MIGRATION = (JobStep.MIGRATED, JobStep.STARTED)


async def check_vwn(parts: Parts, vwn: Vwn) -> None:
    """One VWN's round. Leaves alone VWNs a job's driver is bringing up."""
    p = parts
    vwn_id = vwn.id
    if vwn_id in p.busy:
        return
    p.busy.add(vwn_id)
    try:
        # As it is now, not as the round's list had it: the round's earlier awaits let drivers
        # move it (even back to the same state, for another job).
        now = p.store.vwn(vwn_id)
        if now is None or now.state is VwnState.DESTROYED:
            return
        vwn = now
        if vwn.state is VwnState.DESTROYING:
            await p.destroy(vwn, "finishing an earlier destroy")
        elif vwn.state is VwnState.CLEANING:
            await p.finish(vwn, "finishing an earlier clean-up")
        elif vwn.state is VwnState.IDLE:
            await _check_idle(p, vwn)
        else:
            flight = p.store.job(vwn.job_id) if vwn.job_id else None
            if flight is None or flight.is_over or flight.vwn_id != vwn.id:
                # No job in flight owns it: a crash fell between the job's end and the VWN's.
                if vwn.state in (VwnState.READY, VwnState.RUNNING):
                    await p.finish(vwn, "no job in flight for it")
                else:
                    await p.destroy(vwn, f"{vwn.state} with no job in flight for it")
            elif flight.step in _AFTER_MIGRATION:
                await _follow_job(p, vwn)
    except IllegalTransition as exc:
        # Lost a race: something else acted on the VWN between this round's read and its move.
        # Not a bug here: the next round looks at it as it then is.
        LOG.info("VWN %s: changed while the round acted on it, looked at again next round: %s", vwn_id, exc)
    except (HypervisorError, BatchSystemError) as exc:
        LOG.warning("VWN %s: round skipped, will try again: %s", vwn_id, exc)
    except Exception:  # a plugin breaking its contract on one VWN must not starve the others
        LOG.exception("VWN %s: round failed, will try again", vwn_id)
    finally:
        p.busy.discard(vwn_id)


async def settle_jobs(parts: Parts, skip: "Collection[str]" = ()) -> None:
    """Finish the give-backs left under way, and give back every migrated job whose VWN is gone
    or going: it is bound to a host name that no longer serves it (and that the next VWN in the
    same slot gets). Found from the jobs' side, so a daemon killed between a VWN's end and its
    job's give-back still settles the job. Jobs in `skip` have a driver at work: left to it."""
    p = parts
    for job_id in [f.job_id for f in p.store.jobs()]:
        flight = p.store.job(job_id)  # as it is now: an earlier job's give-back awaited
        if flight is None or job_id in skip:
            continue
        if flight.step is JobStep.GIVING_BACK:  # cut short by a kill, or refused by the batch system
            await p.finish_give_back(flight)
            continue
        if flight.step not in _AFTER_MIGRATION:
            continue
        vwn = p.store.vwn(flight.vwn_id) if flight.vwn_id else None
        if vwn is not None and vwn.is_alive and vwn.job_id == flight.job_id:
            continue
        what = "gone" if vwn is None or vwn.state is VwnState.DESTROYED else (
            "being destroyed" if vwn.state is VwnState.DESTROYING else f"{vwn.state} without it")
        await p.give_back(flight, JobStep.REQUEUED, f"its VWN {flight.vwn_id} is {what}; back to pending")


async def _check_idle(p: Parts, vwn: Vwn) -> None:
    vm_type = p.policy.vm_types.get(vwn.vm_type)
    keep, reason = p.worth_keeping(vwn)
    if vm_type is None or not keep:
        await p.destroy(vwn, reason)
    elif p.clock() - vwn.updated_at >= vm_type.reuse.idle_ttl:
        await p.destroy(vwn, f"idle for longer than {vm_type.reuse.idle_ttl:.0f}s")
    elif await p.call(p.hypervisor.state, vwn.id) is not DomainState.RUNNING:
        await p.destroy(vwn, "its domain stopped while idle")


async def _follow_job(p: Parts, vwn: Vwn) -> None:
    assert vwn.job_id is not None
    flight = p.store.job(vwn.job_id)
    assert flight is not None
    domain = await p.call(p.hypervisor.state, vwn.id)
    if domain is not DomainState.RUNNING:
        await p.destroy(vwn, f"its domain is {domain}")
        await p.give_back(flight, JobStep.REQUEUED, f"its VWN {vwn.id} died ({domain}); back to pending")
        return
    try:
        facts = await p.call(p.batch.job_facts, vwn.job_id)
    except JobNotFound:
        p.step(flight, JobStep.ENDED, detail="the batch system no longer knows the job")
        await p.finish(vwn, "its job is gone")
        return
    if facts.state.is_over:
        p.step(flight, JobStep.ENDED, detail=f"the job {facts.state}")
        await p.finish(vwn, f"its job {facts.state}")
        return
    # Right after the migration a batch system may still show the job on its bait, whose
    # hook has not returned yet: that is not "elsewhere".
    hosts = [h for h in facts.exec_hosts if h != flight.bait_host]
    elsewhere = [h for h in hosts if h != vwn.hostname]
    if elsewhere:
        # The batch system ran the job somewhere else after all: the VWN is free again.
        p.step(flight, JobStep.RELEASED, detail=f"the batch system ran it on {', '.join(elsewhere)} instead")
        await p.finish(vwn, "its job runs elsewhere")
        return
    if vwn.hostname in hosts and facts.state is JobState.RUNNING and vwn.state is VwnState.READY:
        p.move(vwn, VwnState.RUNNING)
        p.step(flight, JobStep.STARTED, detail=f"running on {vwn.hostname}")
        return
    migrated = flight.time_of(JobStep.MIGRATED) or flight.updated_at
    if flight.step is JobStep.MIGRATED and p.clock() - migrated > p.policy.engine.bait_timeout:
        # Moved but never started (the scheduler will not run it there, or its start was lost):
        # it must not hold the VWN for ever. Unbound first; the VWN is freed only once it is.
        flight = await p.give_back(
            flight, JobStep.REQUEUED,
            f"moved to {vwn.hostname} but not started there within engine.bait_timeout; back to pending",
        )
        if flight.is_over:
            await p.finish(vwn, "its job never started")
