"""What the lifecycle hooks broadcast: a VWN changed state, a job moved through the flow."""

import enum

import attrs

from .vwn import Vwn, VwnState


@attrs.frozen
class VwnChanged:
    """A VWN moved to a new state (``vwn.state``); `previous` is None when it was just recorded."""

    vwn: Vwn
    previous: VwnState | None
    at: float


class JobStep(enum.StrEnum):
    """The steps of a job's path through wnod, in the order they normally happen."""

    BAIT_ENTERED = "bait_entered"
    RESOLVED = "resolved"
    REFUSED = "refused"
    VWN_ASSIGNED = "vwn_assigned"
    """A VWN was chosen for the job; `reused` says whether it already existed."""
    VWN_READY = "vwn_ready"
    MIGRATED = "migrated"
    STARTED = "started"
    GIVING_BACK = "giving_back"
    """wnod is handing the job back to the batch system (to be requeued, released or failed, as
    the flight's `giving_back_as` says): recorded before it asks, so a restarted daemon asks again."""
    ENDED = "ended"
    RELEASED = "released"
    """Site policy let the job run outside a VWN."""
    REQUEUED = "requeued"
    """Put back to pending, to be dispatched again later (host full, VWN lost, waited too long)."""
    FAILED = "failed"


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
