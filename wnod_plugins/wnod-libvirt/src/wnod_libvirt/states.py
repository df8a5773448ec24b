"""libvirt's domain states and lifecycle events, in the words of wnod's ``DomainState``."""

import libvirt
from wnod_core.interfaces import DomainState

_STATES = {
    # Xen reports a running PV guest as "no state" or "blocked" while it idles.
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.RUNNING,
    # Shutting down is still running until it is off.
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
}


def domain_state(state: int, reason: int) -> DomainState:
    """From ``virDomain.state()``: a guest that crashed and was then destroyed (on_crash=destroy)
    is shut off for libvirt, with reason "crashed"; for wnod it crashed."""
    if state == libvirt.VIR_DOMAIN_SHUTOFF and reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
        return DomainState.CRASHED
    return _STATES.get(state, DomainState.RUNNING)


_EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: ("started", DomainState.RUNNING),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: ("resumed", DomainState.RUNNING),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: ("suspended", DomainState.PAUSED),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: ("suspended", DomainState.PAUSED),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: ("stopped", DomainState.SHUTOFF),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: ("crashed", DomainState.CRASHED),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: ("undefined", DomainState.MISSING),
}

_STOPPED_DETAILS = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: "shut down",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: "destroyed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: "migrated",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: "saved",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: "failed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: "from snapshot",
}


def event_state(event: int, detail: int) -> tuple[DomainState, str] | None:
    """The state a lifecycle event leaves the domain in, and a word on why; None for events
    that change nothing wnod tracks (defined, shutdown requested, ...)."""
    known = _EVENTS.get(event)
    if known is None:
        return None
    word, state = known
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        word = _STOPPED_DETAILS.get(detail, word)
        if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED:
            state = DomainState.CRASHED
    return state, word
