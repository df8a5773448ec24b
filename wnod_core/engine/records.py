"""Record first, then tell: every change of a VWN or a job is written to the store before anyone
acts on it, and the lifecycle hooks hear of it right after.

A change that spans a VWN and its job (a VWN taken for a job, a job started in its VWN) is one
transaction (``commit``): a daemon killed at any moment finds both records changed, or neither.
"""

import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from ..model import VmType, Vwn, VwnState
from ..model.events import JobStep, JobStepped, VwnChanged
from ..model.flight import JobFlight
from .store import Store

LOG = logging.getLogger("wnod.engine")


class Listeners(Protocol):
    """Who hears about every change: the plugins' broadcast hooks (``Plugins`` is one)."""

    def vwn_changed(self, event: VwnChanged) -> None: ...

    def job_step(self, event: JobStepped) -> None: ...


Move = tuple[Vwn, VwnState, dict[str, Any]]
"""A VWN, the state it moves to, and what else changes with it."""
Step = tuple[JobFlight, JobStep, dict[str, Any]]
"""A job's flight, the step it reaches, and what else changes with it."""


class Recorder:
    def __init__(self, store: Store, listeners: Listeners, host: Callable[[], str], clock: Callable[[], float]):
        self.store = store
        self.listeners = listeners
        self._host = host
        self.clock = clock

    # -- one record ------------------------------------------------------------------------------

    def enter(self, job_id: str, bait_host: str) -> JobFlight:
        """A new flight for a job a bait asks for (the first, or again after wnod was done with it)."""
        flight = JobFlight.entered(job_id, bait_host, self.clock())
        self.store.write(jobs=[flight])
        self._tell_step(flight)
        return flight

    def step(self, flight: JobFlight, step: JobStep, **changes: Any) -> JobFlight:
        return self.commit(step=(flight, step, changes))[1]  # type: ignore[return-value]

    def move(self, vwn: Vwn, state: VwnState, **changes: Any) -> Vwn:
        return self.commit(move=(vwn, state, changes))[0]  # type: ignore[return-value]

    def new_vwn(self, vm_type: VmType, slot: int, hostname: str, job_id: str | None,
                step: Step | None = None) -> tuple[Vwn, JobFlight | None]:
        """Record a new VWN (CREATING) for `job_id`, with its job's `step` (which gets the new VWN's
        id as its ``vwn_id``) in the same transaction."""
        now = self.clock()
        host = self._host()
        vwn = Vwn(
            id=f"{host.split('.')[0].lower()}-s{slot}-{secrets.token_hex(3)}",
            host=host,
            vm_type=vm_type.name,
            state=VwnState.CREATING,
            created_at=now,
            updated_at=now,
            hostname=hostname,
            job_id=job_id,
            image_version=vm_type.image_version,
            slot=slot,
            vcpus=vm_type.vcpus,
            memory=vm_type.memory,
            last_user=step[0].user if step else "",
            last_group=step[0].group if step else "",
        )
        if step:
            flight_, at, changes = step
            step = (flight_, at, {**changes, "vwn_id": vwn.id})
        flight = self._stepped(step, now) if step else None
        self.store.write(new=[vwn], jobs=[flight] if flight else [])
        self._tell_vwn(vwn, None)
        if flight:
            self._tell_step(flight)
        return vwn, flight

    # -- several at once -------------------------------------------------------------------------

    def commit(self, *, move: Move | None = None, step: Step | None = None) -> tuple[Vwn | None, JobFlight | None]:
        """Record a VWN's move and its job's step in one transaction, then tell."""
        now = self.clock()
        vwn = move[0].moved_to(move[1], now, **move[2]) if move else None
        flight = self._stepped(step, now) if step else None
        self.store.write(moves=[(move[0], vwn)] if move and vwn else [], jobs=[flight] if flight else [])
        if move and vwn:
            self._tell_vwn(vwn, move[0].state)
        if flight:
            self._tell_step(flight)
        return vwn, flight

    @staticmethod
    def _stepped(step: Step, now: float) -> JobFlight:
        flight, at, changes = step
        return flight.at_step(at, now, **changes)

    # -- telling ---------------------------------------------------------------------------------

    def _tell_vwn(self, vwn: Vwn, previous: VwnState | None) -> None:
        self._tell(self.listeners.vwn_changed, VwnChanged(vwn=vwn, previous=previous, at=vwn.updated_at))

    def _tell_step(self, flight: JobFlight) -> None:
        # The version the job's VWN booted: the ledger and the metrics say which image ran it.
        vwn = self.store.vwn(flight.vwn_id) if flight.vwn_id else None
        version = vwn.image_version if vwn is not None else ""
        self._tell(self.listeners.job_step, JobStepped.of(flight, self._host(), version))

    @staticmethod
    def _tell(listener: Callable[[Any], None], event: object) -> None:
        try:
            listener(event)
        except Exception:  # the plugin facade isolates hooks already; this guards other listeners
            LOG.exception("a listener failed on %s", event)
