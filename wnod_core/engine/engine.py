"""The engine of one hypervisor host: the daemon's programmatic core.

It owns the job drivers (one per job, however often a bait asks), the rounds of
upkeep, and the admin's actions. Everything runs on one asyncio event loop; plugins'
blocking calls go to worker threads. Placement decisions are made between awaits, so
they are atomic with respect to each other.
"""

import asyncio

from ..chain import ResolverChain
from ..errors import VwnNotFound, WnodError
from ..model import Vwn, VwnState
from ..model.events import JobStep
from ..model.flight import JobFlight
from . import baits, giveback, lifecycle, mixed
from . import strays as strays_
from .flow import BaitAnswer, JobDriver
from .parts import LOG, HostPolicy, Parts
from .reconcile import Reconciled, reconcile
from .steering import Steering
from .strays import StrayDecision
from .upkeep import check_vwns, prune, settle_jobs

PRUNE_EVERY = 3600.0
"""Seconds between two prunings of the jobs wnod is done with."""

_MIGRATED = (JobStep.MIGRATED, JobStep.STARTED)
"""Steps after which the job's driver is done and the upkeep follows it."""


ADMIN_WAITS = 5.0
"""Seconds the admin's destroy waits for a VWN something else acts on, before it says to try again."""


class Engine:
    def __init__(self, parts: Parts):
        self.parts = parts
        self._drivers: dict[str, asyncio.Task[BaitAnswer]] = {}
        """One placement per job, however many baits ask for it."""
        self._wake = asyncio.Event()
        self._pruned = 0.0
        self._steering = Steering()

    # -- the flow --------------------------------------------------------------------------------

    async def bait(self, job_id: str, bait_host: str, caller_uid: int | None = None) -> BaitAnswer:
        """Place job `job_id`, dispatched to `bait_host`, and say how it ended.

        Asking again for a job whose placement is under way waits for the same
        placement: a job dispatched twice gets one VWN. `caller_uid`: the user a hook runs as,
        when it is no admin of the host; it may ask for that user's jobs only.
        """
        if caller_uid is not None:
            refused = await JobDriver(self.parts, job_id, bait_host).refuse_if_not_owner(caller_uid)
            if refused is not None:
                return refused
        task = self._driver(job_id, bait_host)
        # Shielded: a bait that hangs up must not cancel the placement other askers wait for.
        return await asyncio.shield(task)

    def _driver(self, job_id: str, bait_host: str) -> "asyncio.Task[BaitAnswer]":
        task = self._drivers.get(job_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(JobDriver(self.parts, job_id, bait_host).run())
            self._drivers[job_id] = task
            task.add_done_callback(lambda _t: self._drivers.pop(job_id, None))
        return task

    def notice(self, job_id: str) -> None:
        """The batch system says something happened to a job (started, ended): look now."""
        self._wake.set()

    # -- rounds ----------------------------------------------------------------------------------

    async def start(self, strays: StrayDecision = StrayDecision.NONE) -> Reconciled:
        """Reconcile, then resume the placements a previous daemon left under way. `strays`: what
        the admin said to do with domains no record explains (see ``strays``)."""
        found = await reconcile(self.parts, strays)
        self.resume_in_flight()
        return found

    def resume_in_flight(self) -> None:
        for flight in self.parts.store.jobs():
            if flight.job_id not in self._drivers and flight.step not in _MIGRATED:
                LOG.info("job %s: resuming its placement at step %s", flight.job_id, flight.step)
                self._driver(flight.job_id, flight.bait_host)

    async def round(self) -> None:
        """One pass of upkeep over every VWN and every job of this host."""
        p = self.parts
        p.calls.retry_undos()
        await strays_.recheck(p)
        await check_vwns(p)
        await settle_jobs(p, skip=self._drivers)  # live: a driver may start meanwhile
        await mixed.settle(p)
        if not baits.closed_because(p):  # a closed bait takes no job: its weight would steer nothing
            await self._steering.settle(p)
        if p.clock() - self._pruned > PRUNE_EVERY:
            self._pruned = p.clock()
            forgotten = prune(p)
            if forgotten:
                LOG.info("forgot %d job(s) done with for longer than engine.job_retention", forgotten)

    async def run_rounds(self, stop: asyncio.Event) -> None:
        """Rounds every ``engine.poll_interval`` (sooner after a notice) until `stop` is set."""
        while not stop.is_set():
            # Cleared before the round, not after: a notice that arrives during it wakes the next.
            self._wake.clear()
            try:
                await self.round()
            except Exception:  # a round must never end the daemon: the next one tries again
                LOG.exception("upkeep round failed")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.parts.policy.engine.poll_interval,
                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def wait_idle(self) -> None:
        """Until no placement is under way (tests, graceful shutdown)."""
        while self._drivers:
            await asyncio.gather(*list(self._drivers.values()), return_exceptions=True)

    def reconfigure(self, policy: HostPolicy, chain: ResolverChain) -> None:
        """Take a new policy and resolver chain (SIGHUP): placements from now on use them; VWNs
        made before keep what they were made with."""
        self.parts.policy, self.parts.chain = policy, chain

    # -- the admin -------------------------------------------------------------------------------

    @property
    def drained(self) -> bool:
        return baits.drained(self.parts)

    async def drain(self) -> None:
        """Take no new jobs on this host; VWNs at work finish their jobs. Its baits close in the
        batch system, so that jobs go to the other hosts rather than bounce off this one."""
        baits.set_drained(self.parts, True)
        await baits.settle(self.parts)

    async def resume(self) -> None:
        """Undo ``drain``: the baits reopen, unless the host's boots keep failing."""
        baits.set_drained(self.parts, False)
        await baits.settle(self.parts)

    async def destroy_vwn(self, vwn_id: str) -> Vwn:
        """Destroy a VWN now; its job, if it has one, goes back to pending."""
        p = self.parts
        vwn = p.store.vwn(vwn_id)
        if (vwn is None or vwn.state is VwnState.DESTROYED) and vwn_id in p.quarantine:
            return await self._destroy_quarantined(vwn_id)
        if vwn is None or vwn.state is VwnState.DESTROYED:
            raise VwnNotFound(f"no VWN {vwn_id} on host {p.policy.host}")
        # A driver or the upkeep acting on it now: a destroy under it would race its moves. A
        # round's look is over in a moment; a boot may take minutes: the admin is told so.
        async with p.guards.within(ADMIN_WAITS, vwn.id) as free:
            if not free:
                raise WnodError(f"VWN {vwn_id} is being acted on; try again in a few seconds")
            job_id = vwn.job_id
            vwn = await lifecycle.destroy(p, p.store.vwn(vwn_id) or vwn, "the admin asked")
        flight = p.store.job(job_id) if job_id else None
        # A job still being placed notices its VWN is gone and tries again by itself.
        if flight is not None and flight.step in _MIGRATED and flight.vwn_id == vwn_id:
            await giveback.give_back(p, flight, JobStep.REQUEUED, f"its VWN {vwn_id} was destroyed by the admin")
        return vwn

    async def _destroy_quarantined(self, vwn_id: str) -> Vwn:
        """The admin's word on a domain no record explains: destroy it, and whatever runs in it."""
        p = self.parts
        quarantined = p.quarantine[vwn_id]
        LOG.warning("destroying quarantined VWN %s, as the admin asked: %s", vwn_id, quarantined.why)
        await p.calls(p.hypervisor.destroy, vwn_id)
        del p.quarantine[vwn_id]
        info, now = quarantined.info, p.clock()
        return Vwn(id=vwn_id, host=p.policy.host, vm_type=info.vm_type, state=VwnState.DESTROYED, created_at=now,
                   updated_at=now, hostname=info.hostname or None, image_version=info.image_version)

    def vwns(self) -> list[Vwn]:
        return self.parts.store.vwns()

    def jobs(self) -> list[JobFlight]:
        return self.parts.store.jobs()

    def close(self, *, wait: bool = False) -> None:
        """Stop the placements under way (their records let the next daemon finish them) and
        take no more plugin calls. `wait`: until the plugin calls already running return."""
        for task in self._drivers.values():
            task.cancel()
        self.parts.close(wait=wait)
