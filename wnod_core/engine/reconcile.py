"""At start: make the records and the hypervisor agree before serving anyone."""

import attrs

from ..interfaces import DomainInfo, DomainState
from ..model import Vwn, VwnState
from ..text import one_line
from . import lifecycle
from .parts import LOG, Parts
from .strays import StrayDecision, settle
from .upkeep import settle_jobs


@attrs.frozen
class Reconciled:
    """What reconciliation found and did, for the log and ``wnod status``."""

    adopted: tuple[str, ...] = ()
    """VWNs recorded and found running: kept as they were."""
    lost: tuple[str, ...] = ()
    """VWNs recorded but whose domain is gone or dead: recorded destroyed."""
    strays: tuple[str, ...] = ()
    """Domains wnod made that no record explains: adopted, quarantined or (on the admin's word) reaped."""
    strays_adopted: tuple[str, ...] = ()
    """Strays now recorded, with the job found running in them if any."""
    quarantined: tuple[str, ...] = ()
    """Strays left running, not adopted yet (see ``Parts.quarantine`` for why)."""
    reaped: tuple[str, ...] = ()
    """Strays destroyed because the admin said so (``--reap-strays``)."""
    destroyed_again: tuple[str, ...] = ()
    """Domains of VWNs the records hold as destroyed (a create that landed late): destroyed again."""
    others: tuple[str, ...] = ()
    """Domains carrying wnod's identity for another host: left alone."""


async def reconcile(parts: Parts, strays_decision: StrayDecision = StrayDecision.NONE) -> Reconciled:
    """Make the records and the hypervisor agree. Best effort, record by record: what cannot be
    settled now (the hypervisor fails on one VWN) is left as the records say, and the rounds
    finish it (a VWN DESTROYING is destroyed again, one CLEANING cleaned again)."""
    p = parts
    domains = {d.vwn_id: d for d in await p.calls(p.hypervisor.domains)}
    ours = {k: d for k, d in domains.items() if d.host == p.policy.host}
    others = sorted(set(domains) - set(ours))
    adopted, lost = [], []
    records = p.store.vwns()
    for vwn in records:
        try:
            kept = await _settle_record(p, vwn, ours.get(vwn.id))
        except Exception as exc:  # one VWN's trouble must not stop the others being settled
            LOG.warning("VWN %s: not settled at start, the rounds will: %s", vwn.id, one_line(exc))
            continue
        if kept is not None:
            (adopted if kept else lost).append(vwn.id)
    # Jobs moved to a VWN that is now gone, whenever it went (even by a destroy a kill cut short).
    await settle_jobs(p)
    known = {v.id for v in records if v.state is not VwnState.DESTROYED}
    unexplained = sorted(set(ours) - known)  # with no record, or recorded destroyed
    strays = [vwn_id for vwn_id in unexplained if p.store.vwn(vwn_id) is None]
    # Never destroyed because no record explains them: a record can be lost, a VWN's job cannot.
    settled = await settle(p, [ours[vwn_id] for vwn_id in unexplained], strays_decision)
    for vwn_id in others:
        LOG.info("leaving domain %s alone: it belongs to host %s", vwn_id, domains[vwn_id].host)
    return Reconciled(
        adopted=tuple(adopted), lost=tuple(lost), strays=tuple(strays), strays_adopted=settled.adopted,
        quarantined=settled.quarantined, reaped=settled.reaped, destroyed_again=settled.destroyed_again,
        others=tuple(others),
    )


async def _settle_record(p: Parts, vwn: Vwn, domain: DomainInfo | None) -> bool | None:
    """One recorded VWN against its domain: True when it is kept, False when it is lost, None
    when its record only needed finishing."""
    alive = domain is not None and domain.state in (DomainState.RUNNING, DomainState.PAUSED)
    if vwn.state is VwnState.CREATING:
        if alive:  # the domain was made before the crash: carry on with the boot
            p.records.move(vwn, VwnState.BOOTING)
            return True
        await lifecycle.destroy(p, vwn, "its creation was interrupted")
        return False
    if vwn.state is VwnState.DESTROYING:
        await lifecycle.destroy(p, vwn, "its destruction was interrupted")
        return None
    if not alive:
        await lifecycle.destroy(p, vwn, f"its domain is {domain.state if domain else 'missing'} after a restart")
        return False
    if vwn.state in (VwnState.READY, VwnState.RUNNING) and not _owned(p, vwn):
        # Killed between taking an idle VWN for a job and recording the job's step (an older wnod,
        # which wrote them apart): the job resumes from before it had a VWN; give this one back first.
        await lifecycle.finish(p, vwn, "no job in flight for it after a restart")
    return True


def _owned(p: Parts, vwn: Vwn) -> bool:
    """Whether the VWN's job has a flight under way that names this VWN."""
    flight = p.store.job(vwn.job_id) if vwn.job_id else None
    return flight is not None and not flight.is_over and flight.vwn_id == vwn.id
