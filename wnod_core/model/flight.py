"""A job on its way through wnod on one host: what the daemon records about it."""

import attrs

from .events import JobStep

FINAL_STEPS = frozenset({JobStep.ENDED, JobStep.REFUSED, JobStep.RELEASED, JobStep.REQUEUED, JobStep.FAILED})
"""Steps after which wnod has nothing more to do for the job."""


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
        return attrs.evolve(self, step=step, updated_at=now, times=(*self.times, (step.value, now)), **changes)

    @property
    def is_over(self) -> bool:
        return self.step in FINAL_STEPS

    def time_of(self, step: JobStep) -> float | None:
        for name, at in reversed(self.times):
            if name == step.value:
                return at
        return None
