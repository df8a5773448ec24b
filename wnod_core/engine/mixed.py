"""Mixed mode: a host that also runs bare-metal jobs shares its CPUs with them through the batch
system (``[host] bare_metal_node``), so that neither side overbooks the other.

A VWN with a job reserves its vCPUs of the node's CPUs (``BatchSystem.reserve_cpus``, named by
the VWN's id) before its domain is made or it takes the job, and ends the reservation once the
job is over: an idle VWN holds no CPU from bare-metal jobs (its guest idles), and takes them
back, or gives up its next job, when one comes. The batch system is the arbiter: it refuses a
reservation of CPUs its jobs hold, and starts no job on reserved ones. A crash between a
reservation and its VWN's record, in either order, is settled by the next round.
"""

from ..errors import BatchSystemError, PluginError
from ..interfaces import BatchSystem
from ..model import Vwn, VwnState
from .calls import cpus_fence
from .parts import LOG, Parts
from .placement import size_of

BUSY = frozenset({VwnState.CREATING, VwnState.BOOTING, VwnState.READY, VwnState.RUNNING})
"""The states of a VWN with a job, whose vCPUs are reserved."""
KEPT = BUSY | {VwnState.DESTROYING}
"""States in which a reservation is not ended by a round: a busy VWN's, and one being destroyed
(its domain may run on until the hypervisor confirms; ``lifecycle.destroy`` ends it then)."""

UNSUPPORTED = (
    "[host] bare_metal_node is set, but this batch system cannot reserve a node's CPUs for VWNs"
    " (mixed mode); unset it, or use a batch system that can (Slurm)"
)


def cannot_reserve(batch: BatchSystem) -> str:
    """Why mixed mode cannot run on `batch` ("": it can), told before the daemon starts: an adapter
    that keeps the interface's default ``reserve_cpus`` never reserves."""
    if type(batch).reserve_cpus is BatchSystem.reserve_cpus:
        return (f"the {type(batch).__name__} batch system cannot reserve a node's CPUs for VWNs, which mixed"
                " mode needs (Slurm's can); unset it to run VWNs only on this host")
    return ""


async def reserve(p: Parts, vwn: Vwn) -> str:
    """Reserve `vwn`'s vCPUs on this host's bare-metal node; "" when done (or not in mixed mode),
    else why not, in words for the job's owner: the job is then not started on it."""
    node = p.policy.bare_metal_node
    if not node:
        return ""
    cpus = size_of(vwn, p.policy.vm_types)[0]  # as it was made (sized for its job)
    fence = cpus_fence(vwn.id)
    if p.calls.fenced(fence):
        # An end of its reservation that timed out may still land: "already reserved" would not hold.
        return f"a call about the CPUs of VWN {vwn.id} on {node} has not ended yet"
    try:
        if not await p.calls(p.batch.reserve_cpus, node, vwn.id, cpus, fences=[fence]):
            LOG.error("%s", UNSUPPORTED)
            return UNSUPPORTED
    except (BatchSystemError, PluginError) as exc:
        return f"could not reserve the {cpus} CPUs VWN {vwn.id} needs on {node}, which also runs bare-metal jobs: {exc}"
    return ""


async def end(p: Parts, vwn_id: str) -> None:
    """End VWN `vwn_id`'s reservation, its job being over or the VWN gone; a failure is logged, and
    the next round ends it (``settle``)."""
    node = p.policy.bare_metal_node
    if not node:
        return
    fence = cpus_fence(vwn_id)
    if p.calls.fenced(fence):
        LOG.info("reservation of VWN %s on %s: a call about it may still land; ended by a later round", vwn_id, node)
        return
    try:
        await p.calls(p.batch.end_reservation, node, vwn_id, fences=[fence])
    except (BatchSystemError, PluginError) as exc:
        LOG.warning("reservation of VWN %s on %s not ended yet, tried again next round: %s", vwn_id, node, exc)


async def settle(p: Parts) -> None:
    """Each round: end the reservations of VWNs without a job (a crash came between a VWN's end
    and its reservation's), and reserve again for busy VWNs whose reservation is gone (an admin
    deleted it): each logged, neither fatal."""
    node = p.policy.bare_metal_node
    if not node:
        return
    try:
        there = set(await p.calls(p.batch.reservations, node))
    except (BatchSystemError, PluginError) as exc:
        LOG.warning("could not list the reservations of %s, looked at again next round: %s", node, exc)
        return
    # Each under the VWN's guard and as the records have it then: a driver may have given the VWN a
    # job, or ended it, while this round awaited. A quarantined domain (no record, but running,
    # maybe with a job) keeps its reservation until it is settled.
    for name in sorted(there - set(p.quarantine)):
        async with p.guards.if_free(name) as free:
            vwn = p.store.vwn(name)
            if free and (vwn is None or vwn.state not in KEPT):
                LOG.info("reservation %s on %s: its VWN has no job; ended", name, node)
                await end(p, name)
    for vwn_id in [v.id for v in p.store.vwns() if v.state is VwnState.RUNNING and v.id not in there]:
        # RUNNING only: a VWN on its way to its job is reserved for by the job's driver.
        async with p.guards.if_free(vwn_id) as free:
            vwn = p.store.vwn(vwn_id)
            if free and vwn is not None and vwn.state is VwnState.RUNNING:
                why = await reserve(p, vwn)
                if why:
                    LOG.error("VWN %s runs a job without its reservation on %s, which bare-metal jobs may"
                              " overbook: %s", vwn.id, node, why)
