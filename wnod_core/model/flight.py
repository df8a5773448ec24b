"""A job on its way through wnod on one host: what the daemon records about it."""

import attrs

from ..errors import IllegalTransition
from .events import JobStep

FINAL_STEPS = frozenset({JobStep.ENDED, JobStep.REFUSED, JobStep.RELEASED, JobStep.REQUEUED, JobStep.FAILED,
                         JobStep.HELD})
"""Steps after which wnod has nothing more to do for the job."""

_S = JobStep
_OVER = frozenset({_S.ENDED, _S.GIVING_BACK})
"""From any step before the end: the job may end on its own, or wnod may hand it back."""
_NEXT: dict[JobStep, frozenset[JobStep]] = {
    # resolve: a VM type, or refused (handed back); or the job is gone already
    _S.BAIT_ENTERED: frozenset({_S.RESOLVED}) | _OVER,
    # place: a VWN (reused or new), or handed back (host full, drained); decide again if the
    # VM type was reconfigured away
    _S.RESOLVED: frozenset({_S.VWN_ASSIGNED, _S.BAIT_ENTERED}) | _OVER,
    # bring up: joined; or that VWN failed and another is tried
    _S.VWN_ASSIGNED: frozenset({_S.VWN_READY, _S.RESOLVED}) | _OVER,
    # migrate: bound to its VWN; or the VWN was lost just before and another is tried; or the
    # batch system ran the job elsewhere meanwhile (released: it is left where it runs)
    _S.VWN_READY: frozenset({_S.MIGRATED, _S.RESOLVED, _S.RELEASED}) | _OVER,
    # follow: it starts there; or it runs elsewhere after all (released)
    _S.MIGRATED: frozenset({_S.STARTED, _S.RELEASED}) | _OVER,
    _S.STARTED: frozenset({_S.RELEASED}) | _OVER,
    # hand back: once the batch system confirms, the step it was for (asked again meanwhile)
    _S.GIVING_BACK: frozenset({_S.REQUEUED, _S.RELEASED, _S.FAILED, _S.REFUSED, _S.HELD, _S.GIVING_BACK}),
    # a job wnod is done with that a bait sends again: a new flight
    **{final: frozenset({_S.BAIT_ENTERED}) for final in FINAL_STEPS},
}
"""Every step a job's flight may take next: the whole protocol of a job, in one table."""


def next_steps(step: JobStep) -> frozenset[JobStep]:
    return _NEXT[step]


@attrs.frozen
class JobFlight:
    """One job wnod was asked to place, from its bait to its end.

    Recorded before each action the step implies (intent first), so a restarted daemon
    knows what was under way.
    """

    job_id: str
    step: JobStep
    bait_host: str
    updated_at: float
    user: str = ""
    group: str = ""
    """Its owner's primary group, as the batch system says: what the reuse scope "group" goes by."""
    vm_type: str = ""
    vwn_id: str = ""
    attempts: int = 0
    """VWN boots tried for this job so far."""
    reused: bool | None = None
    """Whether its VWN already existed (None until one is assigned)."""
    detail: str = ""
    """Why it is at this step, in words for the admin and the job's owner."""
    times: tuple[tuple[str, float], ...] = ()
    """When it reached each step, in order: ``(step, unix time)`` pairs."""
    giving_back_as: JobStep | None = None
    """At ``GIVING_BACK``: the final step the job reaches once the batch system has it back."""
    stuck_since: float = 0.0
    """At ``GIVING_BACK``: when the batch system had refused to take the job back for longer than
    ``engine.bait_timeout`` (0: it is not stuck). wnod goes on asking and keeps the job's slot."""
    stuck_why: str = ""
    """The batch system's last refusal, while stuck."""
    stray_on: str = ""
    """At ``GIVING_BACK``: the host name of one of this host's slots that the batch system runs
    the job on though wnod never gave it that VWN (a dead daemon's migrate landed late). Until the
    batch system has the job back, no new VWN gets that name and no other job the VWN holding it."""
    cpus: int = 0
    """The CPUs the job asked for, as its batch system said when it was resolved (0: not known yet,
    or recorded by a wnod from before VWNs were sized: its VWN is its type's least size)."""
    memory: int = 0
    """The memory the job asked for, in bytes (0: none, or not known, as for `cpus`)."""

    @classmethod
    def entered(cls, job_id: str, bait_host: str, now: float) -> "JobFlight":
        return cls(
            job_id=job_id,
            step=JobStep.BAIT_ENTERED,
            bait_host=bait_host,
            updated_at=now,
            times=((JobStep.BAIT_ENTERED.value, now),),
        )

    def at_step(self, step: JobStep, now: float, **changes: object) -> "JobFlight":
        """This flight at `step`; raises IllegalTransition for a step its protocol cannot take."""
        if step not in _NEXT[self.step]:
            raise IllegalTransition(f"job {self.job_id}: cannot go from {self.step} to {step}")
        times = ((step.value, now),) if step is JobStep.BAIT_ENTERED and self.is_over else (*self.times, (step.value, now))
        return attrs.evolve(self, step=step, updated_at=now, times=times, **changes)

    @property
    def is_over(self) -> bool:
        return self.step in FINAL_STEPS

    def time_of(self, step: JobStep) -> float | None:
        for name, at in reversed(self.times):
            if name == step.value:
                return at
        return None
