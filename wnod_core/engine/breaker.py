"""A circuit breaker on this host's VWN boots: a broken host stops taking jobs by itself.

A boot that fails (the domain cannot be made, dies, or never joins the batch system) is the
host's or the image's fault, not the job's: the job goes back to pending, for another host.
After ``engine.breaker_type_failures`` boots of one VM type failed in a row, that type gets no
new VWN here for a while; after ``engine.breaker_failures`` in a row of any type, the host
gets none, and its baits (``host.baits``) are closed in the batch system with the reason, so
that jobs go elsewhere. After ``engine.breaker_backoff`` one boot is let through as a probe:
if it works the breaker closes (and the baits reopen), if not the wait doubles (at most an
hour). Vac's back-off, Slurm's DOWN-then-resume — without the manual step.

The host-wide state is kept in the records, so a restarted daemon neither forgets that it
closed the baits nor leaves them closed.
"""

import enum
import logging
from typing import TYPE_CHECKING

import attrs

from ..model.units import format_duration
from . import baits

if TYPE_CHECKING:
    from .parts import Parts

LOG = logging.getLogger("wnod.engine")

MAX_BACKOFF = 3600.0
SETTING = "breaker"
"""The store setting holding the host-wide breaker: "", or "open <since> <backoff>"."""


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    """Boots work: VWNs are made as needed."""
    OPEN = "open"
    """Boots keep failing: no new VWN until the back-off is over."""
    PROBING = "probing"
    """One boot is let through to see whether the trouble is over."""


@attrs.define
class _Circuit:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    backoff: float = 0.0
    why: str = ""


class Breaker:
    def __init__(self, parts: "Parts"):
        self.parts = parts
        self.host = _Circuit()
        self.types: dict[str, _Circuit] = {}
        self._loaded = False

    # -- asked before each new VWN ---------------------------------------------------------------

    def may_boot(self, vm_type: str) -> str:
        """"" when a new VWN of `vm_type` may be made now (a probe, if the breaker was open), else why not."""
        self._load()
        now = self.parts.clock()
        for name, circuit in (("this host", self.host), (f"VM type {vm_type}", self.types.get(vm_type))):
            if circuit is None or circuit.state is BreakerState.CLOSED:
                continue
            if circuit.state is BreakerState.OPEN and now >= circuit.opened_at + circuit.backoff:
                circuit.state = BreakerState.PROBING  # this boot is the probe
                continue
            left = max(0, int(circuit.opened_at + circuit.backoff - now))
            what = "a probe boot is under way" if circuit.state is BreakerState.PROBING else f"next try in {format_duration(left)}"
            return f"VWN boots on {name} keep failing ({circuit.why}); {what}"
        return ""

    # -- told after each boot --------------------------------------------------------------------

    async def booted(self, vm_type: str) -> None:
        """A VWN of `vm_type` joined: the trouble, if any, is over."""
        self._load()
        reopen = self.host.state is not BreakerState.CLOSED
        self.host = _Circuit()
        self.types.pop(vm_type, None)
        if reopen:
            self._save()
            await baits.settle(self.parts)

    async def failed(self, vm_type: str, why: str, host_wide: bool = True) -> None:
        """A VWN of `vm_type` could not be brought up, for a reason of the host or the image; one of
        the type's image alone (`host_wide` False: its disk cannot be had here) counts for the type
        only, so that one broken image never closes the host's baits to its other types' jobs."""
        self._load()
        engine = self.parts.policy.engine
        circuit = self.types.setdefault(vm_type, _Circuit())
        if self._count(circuit, why, engine.breaker_type_failures):
            LOG.error("VM type %s: %d boots in a row failed; no new VWN of it for %s (last: %s)",
                      vm_type, circuit.failures, format_duration(int(circuit.backoff)), why)
        if not host_wide:
            return
        was_open = self.host.state is not BreakerState.CLOSED
        if self._count(self.host, why, engine.breaker_failures):
            LOG.error("host %s: %d VWN boots in a row failed; it takes no new job for %s and closes its"
                      " baits (last: %s)", self.parts.policy.host, self.host.failures,
                      format_duration(int(self.host.backoff)), why)
            self._save()
            if not was_open:
                await baits.settle(self.parts)

    def _count(self, circuit: _Circuit, why: str, threshold: int) -> bool:
        """Count a failure; True when the circuit opens (or stays open after a failed probe)."""
        circuit.failures += 1
        circuit.why = why
        if circuit.state is BreakerState.PROBING or (circuit.state is BreakerState.CLOSED and circuit.failures >= threshold):
            base = self.parts.policy.engine.breaker_backoff
            circuit.backoff = base if circuit.state is BreakerState.CLOSED else min(circuit.backoff * 2, MAX_BACKOFF)
            circuit.state, circuit.opened_at = BreakerState.OPEN, self.parts.clock()
            return True
        return False

    # -- what the admin sees ---------------------------------------------------------------------

    def report(self) -> dict[str, object]:
        self._load()
        return {
            "host": self.host.state.value,
            **({"why": self.host.why} if self.host.state is not BreakerState.CLOSED else {}),
            "types": {t: c.state.value for t, c in sorted(self.types.items()) if c.state is not BreakerState.CLOSED},
        }

    # -- the records ----------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        words = self.parts.store.setting(SETTING).split(maxsplit=3)
        if words and words[0] == BreakerState.OPEN.value and len(words) >= 3:
            self.host = _Circuit(BreakerState.OPEN, failures=self.parts.policy.engine.breaker_failures,
                                 opened_at=float(words[1]), backoff=float(words[2]),
                                 why=words[3] if len(words) > 3 else "boots failed before a restart")

    def _save(self) -> None:
        h = self.host
        value = f"{BreakerState.OPEN.value} {h.opened_at} {h.backoff} {h.why}" if h.state is not BreakerState.CLOSED else ""
        self.parts.store.set_setting(SETTING, value)
