"""Handing a job back to the batch system (requeue, release, hold, fail), in two phases.

Intent first: ``GIVING_BACK`` is recorded, then the batch system is asked, then the final step
— but only once the batch system has confirmed. A daemon killed in between, or a batch system
that refuses, leaves the job at ``GIVING_BACK``: the rounds and the next daemon ask again, and
the job stays visible as stuck (``wnod jobs``, ``wnod status``, the log) for as long as the
batch system does not answer. wnod never records as done what the batch system did not
confirm, and keeps the slot of a job it cannot give back: the job may still be bound to its
host name.
"""

from ..errors import BatchSystemError, JobNotFound
from ..model.events import JobStep
from ..model.flight import FINAL_STEPS, JobFlight
from ..model.units import format_duration
from .calls import job_fence
from .parts import LOG, Parts


async def give_back(p: Parts, flight: JobFlight, step: JobStep, reason: str, stray_on: str = "") -> JobFlight:
    """End wnod's part in a job that is not migrated (or whose VWN is lost): requeue it, release
    it or fail it, as `step` says. `stray_on`: the name of this host's it runs on without wnod,
    held until it is off it (``JobFlight.stray_on``)."""
    assert step in FINAL_STEPS and step is not JobStep.ENDED, step
    flight = p.records.step(flight, JobStep.GIVING_BACK, giving_back_as=step, detail=reason, stray_on=stray_on)
    return await finish_give_back(p, flight)


async def finish_give_back(p: Parts, flight: JobFlight) -> JobFlight:
    """Ask the batch system to take back a job at ``GIVING_BACK``, then record its final step.

    Returns the flight still at ``GIVING_BACK`` while the batch system has not confirmed: asked
    again by the next round, however long that takes; past ``engine.bait_timeout`` it is marked
    stuck, for the admin to see.
    """
    step = flight.giving_back_as
    assert flight.step is JobStep.GIVING_BACK and step is not None, flight
    if p.calls.fenced(job_fence(flight.job_id)):
        # A call about the job that timed out (a migrate) may still land and bind it again: not
        # done until it has ended. Asked again by the rounds then; and by the next daemon, should
        # this one die before: recorded done now, a late bind would outlive both.
        return flight
    if step in (JobStep.FAILED, JobStep.REFUSED):
        action = p.batch.fail
    elif step is JobStep.HELD:
        action = p.batch.hold  # for its admin; bound to nothing (its VWN never booted, no migrate was made)
    else:
        action = p.batch.release
    try:
        # Fenced: a release that lands after its timeout could unbind the job from its next VWN.
        await p.calls(action, flight.job_id, flight.detail, fences=[job_fence(flight.job_id)])
    except JobNotFound:
        pass  # the batch system forgot the job: nothing of it is left to hand back
    except Exception as exc:  # BatchSystemError, or a plugin breaking its contract
        return _not_yet(p, flight, action.__name__, exc)
    now = p.store.job(flight.job_id)
    if now is not None and now.step is not JobStep.GIVING_BACK:
        return now  # another part of the engine finished it meanwhile: recorded once
    return p.records.step(flight, step, giving_back_as=None, stuck_since=0.0, stuck_why="", stray_on="")


def _not_yet(p: Parts, flight: JobFlight, action: str, exc: Exception) -> JobFlight:
    since = flight.time_of(JobStep.GIVING_BACK) or flight.updated_at
    waited = p.clock() - since
    if isinstance(exc, BatchSystemError):
        LOG.warning("job %s: %s failed, will try again: %s", flight.job_id, action, exc)
    else:
        LOG.exception("job %s: %s failed, will try again", flight.job_id, action)
    if waited <= p.policy.engine.bait_timeout or flight.stuck_since:
        return flight
    LOG.error("job %s is stuck: the batch system has not taken it back for %s; wnod keeps asking, and"
              " keeps its slot until it does (%s: %s)", flight.job_id, format_duration(int(waited)), action, exc)
    return p.records.step(flight, JobStep.GIVING_BACK, stuck_since=p.clock(), stuck_why=str(exc)[:2000])
