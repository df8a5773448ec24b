"""This host's baits in the batch system (``host.baits``): open while the host takes jobs,
closed while its admin drained it or its VWN boots keep failing (breaker.py).

A bait left open on a host that takes no job only bounces what the batch system sends there:
each job dispatched to it is put back to pending, and may be sent to the same bait again. Closed,
the batch system sends the jobs to the other hosts' baits. The two reasons are kept apart: the
admin's resume does not reopen the baits of a host whose boots keep failing, nor does a boot
that works again reopen those of a drained host.
"""

import logging
from typing import TYPE_CHECKING

from ..errors import BatchSystemError

if TYPE_CHECKING:
    from .parts import Parts

LOG = logging.getLogger("wnod.engine")

DRAINED = "drained"
"""The store setting: "yes" while the admin has drained the host (kept across restarts)."""


def drained(parts: "Parts") -> bool:
    return parts.store.setting(DRAINED) == "yes"


def set_drained(parts: "Parts", yes: bool) -> None:
    parts.store.set_setting(DRAINED, "yes" if yes else "no")


def closed_because(parts: "Parts") -> str:
    """Why the baits are to be closed now ("" when they are to be open)."""
    if drained(parts):
        return f"host {parts.policy.host} is drained by its admin"
    breaker = parts.breaker.report()
    if breaker["host"] != "closed":
        return f"VWN boots on host {parts.policy.host} keep failing ({breaker.get('why', '')})"
    return ""


async def settle(parts: "Parts") -> None:
    """Open or close every bait as the host's state says now. A batch system that refuses is
    logged, not raised: the host's own state is what decides its jobs, the baits only steer."""
    why = closed_because(parts)
    for bait in parts.policy.baits:
        try:
            await parts.calls(parts.batch.close_host if why else parts.batch.open_host, bait)
            LOG.warning("bait %s %s", bait, f"closed: {why}" if why else "reopened: the host takes jobs again")
        except BatchSystemError as exc:
            LOG.error("bait %s could not be %s: %s", bait, "closed" if why else "reopened", exc)
