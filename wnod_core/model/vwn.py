"""A virtual worker node (VWN) and the only moves its life may make."""

import enum

import attrs

from ..errors import IllegalTransition


class VwnState(enum.StrEnum):
    """Where a VWN is in its life. The engine moves it; nothing else does."""

    CREATING = "creating"
    """Recorded, disks and domain being made (intent written before the hypervisor is asked)."""
    BOOTING = "booting"
    """The domain runs; waiting for its batch daemon to join the batch system."""
    READY = "ready"
    """Joined the batch system, closed to every job but the one it is for; migration under way."""
    RUNNING = "running"
    """Its job runs on it."""
    CLEANING = "cleaning"
    """Its job ended; closed to new work while its scratch disk is reset."""
    IDLE = "idle"
    """Clean and kept for a later job of its type."""
    DESTROYING = "destroying"
    """Being removed, with its scratch disk."""
    DESTROYED = "destroyed"
    """Gone: kept in the records only for history."""


_LEGAL: dict[VwnState, frozenset[VwnState]] = {
    VwnState.CREATING: frozenset({VwnState.BOOTING, VwnState.DESTROYING}),
    VwnState.BOOTING: frozenset({VwnState.READY, VwnState.DESTROYING}),
    VwnState.READY: frozenset({VwnState.RUNNING, VwnState.CLEANING, VwnState.DESTROYING}),
    VwnState.RUNNING: frozenset({VwnState.CLEANING, VwnState.DESTROYING}),
    VwnState.CLEANING: frozenset({VwnState.IDLE, VwnState.DESTROYING}),
    # An idle VWN taken by a new job goes straight back to READY: it has booted and joined already.
    VwnState.IDLE: frozenset({VwnState.READY, VwnState.DESTROYING}),
    VwnState.DESTROYING: frozenset({VwnState.DESTROYED}),
    VwnState.DESTROYED: frozenset(),
}


def legal_moves(state: VwnState) -> frozenset[VwnState]:
    return _LEGAL[state]


@attrs.frozen
class Vwn:
    """One virtual worker node as wnod records it."""

    id: str
    host: str
    """The hypervisor host it lives on."""
    vm_type: str
    state: VwnState
    created_at: float
    updated_at: float
    hostname: str | None = None
    """Its name in the batch system, once known."""
    job_id: str | None = None
    """The one job it is for, while it has one; kept while it is DESTROYING (whose it was, if the
    daemon is killed before it is gone), dropped once DESTROYED."""
    reuse_count: int = 0
    """How many jobs it took after its first."""
    image_version: str = ""
    slot: int = 0
    """Its place on the host, 1 to ``host.max_vwns``: its host name is made from it."""
    vcpus: int = 0
    """The vCPUs it was made with (0: not recorded, by an older wnod; its type's are counted)."""
    memory: int = 0
    """The memory it was made with, in bytes (0: not recorded, as for `vcpus`)."""
    version: int = 0
    """How many moves it made: the records take a move only from the version it was made from."""
    booted_at: float = 0.0
    """When its domain last (re)started, at creation or at a scratch reset (0: at `created_at`):
    only a batch registration from then on is this VWN's (host names are reused)."""
    last_user: str = ""
    """The owner of the last job it ran ("" before its first): reuse is scoped by it."""
    last_group: str = ""
    """That owner's primary group."""

    def moved_to(self, state: VwnState, now: float, **changes: object) -> "Vwn":
        """This VWN in `state`; raises IllegalTransition for a move its life cannot make."""
        if state not in _LEGAL[self.state]:
            raise IllegalTransition(f"VWN {self.id}: cannot go from {self.state} to {state}")
        return attrs.evolve(self, state=state, updated_at=now, version=self.version + 1, **changes)

    @property
    def incarnation(self) -> float:
        """Since when the domain now running exists: what the batch system's registration must not predate."""
        return self.booted_at or self.created_at

    @property
    def is_alive(self) -> bool:
        return self.state not in (VwnState.DESTROYING, VwnState.DESTROYED)
