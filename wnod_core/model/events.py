"""What the lifecycle hooks broadcast: a VWN changed state, a job moved through the flow."""

import enum
from typing import TYPE_CHECKING

import attrs

from .vwn import Vwn, VwnState

if TYPE_CHECKING:  # flight.py builds on this module
    from .flight import JobFlight


@attrs.frozen
class VwnChanged:
    """A VWN moved to a new state (``vwn.state``); `previous` is None when it was just recorded."""

    vwn: Vwn
    previous: VwnState | None
    at: float


class JobStep(enum.StrEnum):
    """The steps of a job's path through wnod, in the order they normally happen."""

    BAIT_ENTERED = "bait_entered"
    """A bait asked for the job: recorded before anything else is done for it."""
    RESOLVED = "resolved"
    """The resolver chain gave it a VM type; a VWN is to be found for it."""
    REFUSED = "refused"
    """No VM type for it (the resolvers refused it): failed, with the reason shown to its owner."""
    VWN_ASSIGNED = "vwn_assigned"
    """A VWN was chosen for the job; `reused` says whether it already existed."""
    VWN_READY = "vwn_ready"
    """Its VWN joined the batch system, closed to every other job; the job is to be moved there."""
    MIGRATED = "migrated"
    """Bound to its VWN, and to it alone: the batch system starts it there."""
    STARTED = "started"
    """It runs in its VWN; the rounds follow it to its end."""
    GIVING_BACK = "giving_back"
    """wnod is handing the job back to the batch system (to be requeued, released, held or failed, as
    the flight's `giving_back_as` says): recorded before it asks, so a restarted daemon asks again;
    done only once the batch system confirms (stuck, and shown so, while it does not)."""
    ENDED = "ended"
    """The job is over (finished, cancelled, or gone from the batch system); its VWN is cleaned."""
    RELEASED = "released"
    """It runs outside a VWN: by site policy, or because the batch system ran it elsewhere."""
    REQUEUED = "requeued"
    """Put back to pending, to be dispatched again later (host full, VWN lost, waited too long,
    its VWN could not boot)."""
    FAILED = "failed"
    """Ended by wnod without running (a fault of the job itself), with the reason shown to its owner."""
    HELD = "held"
    """Held in the batch system for its admin, with the reason shown (no VWN could be booted for it
    and ``engine.on_boot_failure = "hold"``): released by the admin, it is dispatched again."""


@attrs.frozen
class JobStepped:
    """A job reached `step` of its path through wnod on hypervisor host `host`."""

    job_id: str
    step: JobStep
    at: float
    host: str
    user: str = ""
    vm_type: str = ""
    vwn_id: str = ""
    reused: bool | None = None
    detail: str = ""
    times: tuple[tuple[str, float], ...] = ()
    """When the job reached each step so far, in order: ``(step, unix time)`` pairs."""
    image_version: str = ""
    """The image version its VWN booted ("" while it has none, or if that VWN's record is gone)."""

    @classmethod
    def of(cls, flight: "JobFlight", host: str, image_version: str = "") -> "JobStepped":
        """What a job's record, just written, tells the listeners."""
        return cls(
            job_id=flight.job_id, step=flight.step, at=flight.updated_at, host=host, user=flight.user,
            vm_type=flight.vm_type, vwn_id=flight.vwn_id, reused=flight.reused, detail=flight.detail,
            times=flight.times, image_version=image_version,
        )
