"""One job's way from its bait to its VWN: resolve, place, boot, wait, migrate.

The driver reads where the job stands from the records and takes the next step, again
and again, until it has an answer for the bait. Because it starts from the records, a
daemon restarted in the middle picks the job up where it was.
"""

import asyncio

import attrs

from ..config.schema import BootFailure
from ..errors import BatchSystemError, HypervisorError, JobNotFound
from ..interfaces import BaitOutcome, DomainState
from ..model import Refused, VmType, Vwn, VwnState
from ..model.events import JobStep
from ..model.flight import JobFlight
from ..text import one_line
from .parts import LOG, Parts
from .placement import Create, Evict, Full, Reuse, place


@attrs.frozen
class BaitAnswer:
    """What ``wnod bait`` tells the batch system's hook."""

    outcome: BaitOutcome
    reason: str
    vm_type: str = ""
    vwn_id: str = ""
    hostname: str = ""


_OUTCOME_OF_STEP = {
    JobStep.REFUSED: BaitOutcome.REFUSED,
    JobStep.FAILED: BaitOutcome.REFUSED,
    JobStep.ENDED: BaitOutcome.REFUSED,
    JobStep.RELEASED: BaitOutcome.RELEASED,
    JobStep.REQUEUED: BaitOutcome.RETRY,
}


class JobDriver:
    def __init__(self, parts: Parts, job_id: str, bait_host: str):
        self.parts = parts
        self.job_id = job_id
        self.bait_host = bait_host

    async def run(self) -> BaitAnswer:
        p = self.parts
        flight = p.store.job(self.job_id)
        if flight is None or flight.is_over:
            flight = p.step(JobFlight.entered(self.job_id, self.bait_host, p.clock()), JobStep.BAIT_ENTERED)
        try:
            while True:
                answer, flight = await self._advance(flight)
                if answer is not None:
                    return answer
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a plugin breaking its contract: never leave the job stuck
            LOG.exception("job %s: unexpected failure at step %s", self.job_id, flight.step)
            reason = f"wnod failed on this host: {one_line(exc)}"
            try:
                flight = await p.give_back(flight, JobStep.REQUEUED, reason)
            except Exception:  # even the give-back broke: the bait still gets its answer
                LOG.exception("job %s: could not give the job back", self.job_id)
                return BaitAnswer(outcome=BaitOutcome.RETRY, reason=reason, vm_type=flight.vm_type)
            return self._answer(flight)

    def _answer(self, flight: JobFlight, vwn: Vwn | None = None) -> BaitAnswer:
        if flight.step in (JobStep.MIGRATED, JobStep.STARTED):
            outcome = BaitOutcome.MIGRATED
            reason = f"moved to VWN {flight.vwn_id}" + (f" ({vwn.hostname})" if vwn and vwn.hostname else "")
        elif flight.step is JobStep.GIVING_BACK:  # the batch system is told again later
            assert flight.giving_back_as is not None
            outcome, reason = _OUTCOME_OF_STEP[flight.giving_back_as], flight.detail
        else:
            outcome, reason = _OUTCOME_OF_STEP[flight.step], flight.detail
        return BaitAnswer(
            outcome=outcome,
            reason=reason,
            vm_type=flight.vm_type,
            vwn_id=flight.vwn_id,
            hostname=(vwn.hostname or "") if vwn else "",
        )

    async def _advance(self, flight: JobFlight) -> tuple[BaitAnswer | None, JobFlight]:
        p = self.parts
        if flight.is_over:
            return self._answer(flight), flight
        if flight.step is JobStep.GIVING_BACK:  # a give-back a kill or the batch system cut short
            flight = await p.finish_give_back(flight)
            return self._answer(flight), flight
        if flight.step is JobStep.BAIT_ENTERED:
            return None, await self._resolve(flight)
        if self._waited_too_long(flight):
            return None, await self._requeue(flight, "waited too long for a VWN (longer than engine.bait_timeout)")
        if flight.step is JobStep.RESOLVED:
            return None, await self._place(flight)
        vwn = p.store.vwn(flight.vwn_id) if flight.vwn_id else None
        if flight.step is JobStep.VWN_ASSIGNED:
            return None, await self._bring_up(flight, vwn)
        if flight.step is JobStep.VWN_READY:
            return None, await self._migrate(flight, vwn)
        # MIGRATED or STARTED: asked again (the bait retried, or the job came back to a bait).
        if vwn is not None and vwn.state is VwnState.READY and vwn.job_id == flight.job_id and vwn.hostname:
            await self._try_migrate(vwn.hostname)
        return self._answer(flight, vwn), flight

    def _waited_too_long(self, flight: JobFlight) -> bool:
        return flight.step in (JobStep.RESOLVED, JobStep.VWN_ASSIGNED) and self._past_bait_timeout(flight)

    def _past_bait_timeout(self, flight: JobFlight) -> bool:
        entered = flight.time_of(JobStep.BAIT_ENTERED) or flight.updated_at
        return self.parts.clock() - entered > self.parts.policy.engine.bait_timeout

    # -- resolve ---------------------------------------------------------------------------------

    async def _resolve(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        try:
            facts = await p.call(p.batch.job_facts, self.job_id)
        except JobNotFound:
            return p.step(flight, JobStep.ENDED, detail="the batch system no longer knows this job")
        except BatchSystemError as exc:
            return await p.give_back(flight, JobStep.REQUEUED, f"could not read the job's facts: {exc}")
        if facts.state.is_over:
            return p.step(flight, JobStep.ENDED, user=facts.user, detail=f"the job is already {facts.state}")
        flight = attrs.evolve(flight, user=facts.user)
        decision = await p.call(p.chain.resolve, facts)
        if isinstance(decision, Refused):
            return await p.give_back(flight, JobStep.REFUSED, decision.reason)
        return p.step(flight, JobStep.RESOLVED, vm_type=decision.vm_type, detail=decision.reason)

    # -- place -----------------------------------------------------------------------------------

    async def _place(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        if p.store.setting("drained") == "yes":
            return await p.give_back(flight, JobStep.REQUEUED, f"host {p.policy.host} is drained by its admin")
        if p.quarantine:  # it cannot count what its unrecorded VWNs hold: no new job may overbook it
            return await p.give_back(
                flight, JobStep.REQUEUED,
                f"host {p.policy.host} has {len(p.quarantine)} VWN(s) it has no record of (quarantined:"
                " see `wnod status`); it takes no new job until they are settled",
            )
        vm_type = p.policy.vm_types.get(flight.vm_type)
        if vm_type is None:  # the config was reloaded meanwhile: decide again
            return p.step(flight, JobStep.BAIT_ENTERED, detail=f'VM type "{flight.vm_type}" is gone; resolving again')
        placement = place(
            vm_type, p.store.vwns(), p.policy.vm_types, p.policy.capacity, p.busy, p.held_slots()
        )
        if isinstance(placement, Reuse):
            vwn = placement.vwn
            p.move(vwn, VwnState.READY, job_id=self.job_id, reuse_count=vwn.reuse_count + 1)
            return p.step(flight, JobStep.VWN_ASSIGNED, vwn_id=vwn.id, reused=True, detail="idle VWN reused")
        if isinstance(placement, Create):
            vwn = p.new_vwn(vm_type, placement.slot, self.job_id)
            return p.step(
                flight, JobStep.VWN_ASSIGNED, vwn_id=vwn.id, reused=False, attempts=flight.attempts + 1,
                detail=f"new VWN in slot {placement.slot}",
            )
        if isinstance(placement, Evict):
            # Recorded as DESTROYING at once, so no other job takes them meanwhile; then ask again.
            victims = [p.move(v, VwnState.DESTROYING) for v in placement.victims]
            p.busy.update(v.id for v in victims)
            try:
                await asyncio.gather(*(p.destroy(v, f"room needed for a {vm_type.name} VWN") for v in victims))
            finally:
                p.busy.difference_update(v.id for v in victims)
            return flight
        assert isinstance(placement, Full)
        return await p.give_back(flight, JobStep.REQUEUED, placement.reason)

    # -- boot ------------------------------------------------------------------------------------

    async def _bring_up(self, flight: JobFlight, vwn: Vwn | None) -> JobFlight:
        p = self.parts
        if vwn is None or not vwn.is_alive or vwn.job_id != self.job_id:
            return await self._boot_failed(flight, "its VWN was lost")
        p.busy.add(vwn.id)
        try:
            if vwn.state is VwnState.CREATING:
                try:
                    # Closed before it exists: once its batch daemon joins, no job but the one
                    # migrated to it may start there.
                    await p.call(p.batch.close_host, vwn.hostname)
                except BatchSystemError as exc:
                    await p.destroy(vwn, "could not be closed to other jobs")
                    return await self._boot_failed(flight, f"VWN could not be closed to other jobs: {exc}")
                try:
                    await p.call(p.hypervisor.create, p.spec(vwn))
                except HypervisorError as exc:
                    await p.destroy(vwn, "creation failed")
                    return await self._boot_failed(flight, f"VWN could not be created: {one_line(exc)}")
                vwn = p.move(vwn, VwnState.BOOTING)
            if vwn.state is VwnState.BOOTING:
                failure, job_over = await self._wait_ready(vwn, flight)
                if failure:
                    await p.destroy(vwn, failure)
                    if job_over:
                        return p.step(flight, JobStep.ENDED, detail=job_over)
                    return await self._boot_failed(flight, failure)
                vwn = p.move(vwn, VwnState.READY, job_id=None if job_over else self.job_id)
                if job_over:
                    await p.finish(vwn, job_over)
                    return p.step(flight, JobStep.ENDED, detail=job_over)
            if vwn.state is VwnState.READY and vwn.job_id == self.job_id:
                if flight.reused and not await self._still_serves(vwn):
                    await p.destroy(vwn, "idle VWN found dead when reused")
                    return p.step(flight, JobStep.RESOLVED, vwn_id="", reused=None, detail="reused VWN was dead")
                return p.step(flight, JobStep.VWN_READY, detail=f"VWN {vwn.id} joined as {vwn.hostname}")
            return await self._boot_failed(flight, f"its VWN is {vwn.state}")
        finally:
            p.busy.discard(vwn.id)

    async def _still_serves(self, vwn: Vwn) -> bool:
        p = self.parts
        try:
            running = await p.call(p.hypervisor.state, vwn.id) is DomainState.RUNNING
            return running and bool(vwn.hostname) and await p.call(p.batch.host_ready, vwn.hostname, vwn.created_at)
        except (HypervisorError, BatchSystemError):
            return False

    async def _wait_ready(self, vwn: Vwn, flight: JobFlight) -> tuple[str, str]:
        """Poll until the VWN has joined the batch system.

        Returns (failure, job_over): failure is why the VWN is no good ("" when it is
        ready); job_over says the job ended meanwhile ("" while it still wants the VWN).
        A job that ends while its VWN boots does not stop the boot: a ready VWN is kept
        idle for the next job of its type.
        """
        p = self.parts
        vm_type: VmType = p.policy.vm_types[vwn.vm_type]
        deadline = vwn.updated_at + vm_type.boot_timeout
        job_over = ""
        while True:
            try:
                state = await p.call(p.hypervisor.state, vwn.id)
                if state is not DomainState.RUNNING:
                    return f"its domain is {state} while booting", job_over
                if vwn.hostname and await p.call(p.batch.host_ready, vwn.hostname, vwn.created_at):
                    return "", job_over
            except (HypervisorError, BatchSystemError) as exc:  # passing: asked again until the deadline
                LOG.warning("VWN %s: cannot tell whether it is ready yet: %s", vwn.id, exc)
            if not job_over:
                job_over = await self._job_gone()
            if p.clock() >= deadline:
                return f"VWN did not join the batch system within {vm_type.boot_timeout:.0f}s", job_over
            if self._past_bait_timeout(flight):  # _boot_failed puts the job back to pending
                return "VWN did not join the batch system before engine.bait_timeout", job_over
            await asyncio.sleep(p.policy.engine.poll_interval)

    async def _job_gone(self) -> str:
        p = self.parts
        try:
            facts = await p.call(p.batch.job_facts, self.job_id)
        except JobNotFound:
            return "the job left the batch system while its VWN booted"
        except BatchSystemError:
            return ""  # cannot tell now; asked again at the next poll
        return f"the job was {facts.state} while its VWN booted" if facts.state.is_over else ""

    async def _boot_failed(self, flight: JobFlight, reason: str) -> JobFlight:
        p = self.parts
        LOG.warning("job %s: %s (try %d)", self.job_id, reason, flight.attempts)
        if self._past_bait_timeout(flight):
            return await self._requeue(
                flight, f"waited too long for a VWN (longer than engine.bait_timeout); last: {reason}"
            )
        if flight.attempts <= p.policy.engine.boot_retries:
            return p.step(flight, JobStep.RESOLVED, vwn_id="", reused=None, detail=f"trying again: {reason}")
        return await self._abandon(flight, f"no VWN after {flight.attempts} tries; last: {reason}")

    async def _requeue(self, flight: JobFlight, reason: str) -> JobFlight:
        await self._drop_vwn(flight, reason)
        return await self.parts.give_back(flight, JobStep.REQUEUED, reason)

    async def _drop_vwn(self, flight: JobFlight, reason: str) -> None:
        p = self.parts
        if flight.vwn_id:
            vwn = p.store.vwn(flight.vwn_id)
            if vwn is not None and vwn.is_alive and vwn.job_id == self.job_id:
                await p.destroy(vwn, reason)

    async def _abandon(self, flight: JobFlight, reason: str) -> JobFlight:
        p = self.parts
        await self._drop_vwn(flight, reason)
        if p.policy.engine.on_boot_failure is BootFailure.RELEASE:
            return await p.give_back(flight, JobStep.RELEASED, f"{reason}; runs outside a VWN by site policy")
        return await p.give_back(flight, JobStep.FAILED, reason)

    # -- migrate ---------------------------------------------------------------------------------

    async def _migrate(self, flight: JobFlight, vwn: Vwn | None) -> JobFlight:
        p = self.parts
        if vwn is None or vwn.state is not VwnState.READY or vwn.job_id != self.job_id or not vwn.hostname:
            return await self._boot_failed(flight, "its VWN was lost before the job moved")
        p.busy.add(vwn.id)
        try:
            try:
                await p.call(p.batch.migrate, self.job_id, vwn.hostname)
            except JobNotFound:
                await p.finish(vwn, "its job left before it moved")
                return p.step(flight, JobStep.ENDED, detail="the job left the batch system before it moved")
            except BatchSystemError as exc:
                await p.finish(vwn, "its job could not be moved")
                return await p.give_back(flight, JobStep.REQUEUED, f"could not move the job: {exc}")
            return p.step(flight, JobStep.MIGRATED, detail=f"bound to {vwn.hostname}")
        finally:
            p.busy.discard(vwn.id)

    async def _try_migrate(self, hostname: str) -> None:
        p = self.parts
        try:
            await p.call(p.batch.migrate, self.job_id, hostname)
        except BatchSystemError as exc:  # the upkeep sees the job's fate on its next pass
            LOG.warning("job %s: migrating again failed: %s", self.job_id, exc)
