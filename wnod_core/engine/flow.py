"""One job's way from its bait to its VWN, a handler per step of its flight.

| step           | handler      | what happens                                                      |
| -------------- | ------------ | ----------------------------------------------------------------- |
| (a new request)| ``admit``    | the job must run, right now, on the bait the request names, and that bait be this host's; else answered, nothing recorded |
| bait_entered   | ``resolve``  | the batch system's facts (with the CPUs and memory the job asked for), then the resolver chain: a VM type, or refused |
| resolved       | ``place``    | the VWN sized for the job within its type's bounds (or refused: bigger than its type makes; or back to pending: no version of its image published here); an idle VWN of that size reused, a new one recorded, idle ones evicted, a wait for VWNs being cleaned, or the host is full |
| vwn_assigned   | ``bring_up`` | closed to other jobs, its domain made, waited for until it joined  |
| vwn_ready      | ``migrate``  | the job bound to the VWN, and to it alone                         |
| giving_back    | ``hand_back``| the batch system asked to take the job back (requeue, release, fail) |
| migrated, started, the final steps | — | the bait's answer; the upkeep follows the job to its end |

The driver reads where the job stands from the records and runs the handler of that step,
again and again, until the job reaches a step with none: then the bait has its answer.
Because it starts from the records, a daemon restarted in the middle picks the job up where
it was. The steps a flight may take are one table (``model.flight``); the handlers only
choose among them.
"""

import asyncio
from collections.abc import Awaitable, Callable

import attrs

from ..config.schema import BootFailure
from ..errors import BatchSystemError, HypervisorError, ImageUnavailable, JobNotFound, PluginError
from ..images.rolled_out import unpublished
from ..interfaces import BaitOutcome, DomainState
from ..kits.accounts import account
from ..model import JobFacts, JobState, Refused, VmType, Vwn, VwnState
from ..model.events import JobStep
from ..model.flight import JobFlight
from ..model.units import format_duration
from ..text import one_line
from . import baits, giveback, lifecycle, mixed
from .calls import host_fence, job_fence, vwn_fence
from .parts import LOG, Parts
from .placement import Create, Evict, Full, Reuse, Wait, place
from .sizing import Oversized, sized


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
    JobStep.HELD: BaitOutcome.RETRY,  # held in the batch system: its bait must not run it
}
_MIGRATED = (JobStep.MIGRATED, JobStep.STARTED)
FAILED_HERE = "wnod failed on this host"
"""How the reason of a job given back for a bug (or a plugin breaking its contract) begins."""


class JobDriver:
    def __init__(self, parts: Parts, job_id: str, bait_host: str):
        self.parts = parts
        self.job_id = job_id
        self.bait_host = bait_host
        self.admitted: JobFacts | None = None
        """The facts the request was admitted on: what ``resolve`` goes by, not asked twice."""
        self.waited = False
        """Whether this driver was told to wait for room already (said once in the log)."""
        self.full_since: float | None = None
        """When this job first found the host full (``engine.full_wait`` runs from then)."""

    async def run(self) -> BaitAnswer:
        p = self.parts
        flight = p.store.job(self.job_id)
        if flight is None or flight.is_over:
            refused = await self.admit()
            if refused is not None:
                return refused
            flight = p.records.enter(self.job_id, self.bait_host)
        elif flight.step in _MIGRATED:
            return await self.asked_again(flight)
        try:
            while flight.step in HANDLERS:
                if self._waited_too_long(flight):
                    flight = await self._requeue(flight, "waited too long for a VWN (longer than engine.bait_timeout)")
                else:
                    flight = await HANDLERS[flight.step](self, flight)
                if flight.step is JobStep.GIVING_BACK:
                    break  # asked once; not confirmed yet: the rounds ask again, the bait has its answer
            return self._answer(flight)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a plugin breaking its contract: never leave the job stuck
            LOG.exception("job %s: unexpected failure at step %s", self.job_id, flight.step)
            reason = f"{FAILED_HERE}: {one_line(exc)}"
            try:
                flight = p.store.job(self.job_id) or flight
                if flight.step is not JobStep.GIVING_BACK and not flight.is_over:
                    flight = await giveback.give_back(p, flight, JobStep.REQUEUED, reason)
            except Exception:  # even the give-back broke: the bait still gets its answer
                LOG.exception("job %s: could not give the job back", self.job_id)
                return BaitAnswer(outcome=BaitOutcome.RETRY, reason=reason, vm_type=flight.vm_type)
            return self._answer(flight)

    def _answer(self, flight: JobFlight, vwn: Vwn | None = None) -> BaitAnswer:
        if flight.step in _MIGRATED:
            vwn = vwn or self.parts.store.vwn(flight.vwn_id)
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

    def _waited_too_long(self, flight: JobFlight) -> bool:
        steps = (JobStep.RESOLVED, JobStep.VWN_ASSIGNED, JobStep.VWN_READY)
        return flight.step in steps and self._past_bait_timeout(flight)

    def _past_bait_timeout(self, flight: JobFlight) -> bool:
        entered = flight.time_of(JobStep.BAIT_ENTERED) or flight.updated_at
        return self.parts.clock() - entered > self.parts.policy.engine.bait_timeout

    # -- a new request: admit --------------------------------------------------------------------

    async def admit(self) -> BaitAnswer | None:
        """Check a new bait request against the batch system; None admits it.

        Anyone who reaches the daemon can send one, naming any job and any bait: without this a
        pending job could be pulled onto a VWN, or a job running on an ordinary node taken off
        it (migrate acts on a job wherever it runs). Whatever is refused leaves no record and
        no call that acts on the job. Refusals other than an unknown job answer RETRY: should
        the batch system only lag behind the bait's own hook, the job is put back to pending
        by its hook (never cancelled for it), and dispatched again.
        """
        p = self.parts
        baits = p.policy.baits
        if baits and self.bait_host not in baits:
            return self._refuse(BaitOutcome.RETRY, f"{self.bait_host} is not a bait of this host (host.baits:"
                                f" {', '.join(baits)})")
        try:
            facts = await p.calls(p.batch.job_facts, self.job_id)
        except JobNotFound:
            return self._refuse(BaitOutcome.REFUSED, f"the batch system does not know job {self.job_id}")
        except BatchSystemError as exc:
            return self._refuse(BaitOutcome.RETRY, f"could not check where job {self.job_id} runs: {exc}")
        except Exception as exc:  # a plugin breaking its contract: answered all the same
            LOG.exception("job %s: the batch system's job_facts broke its contract", self.job_id)
            return self._refuse(BaitOutcome.RETRY, f"could not check where job {self.job_id} runs: {one_line(exc)}")
        if facts.state is not JobState.RUNNING or facts.exec_hosts != (self.bait_host,):
            where = f" on {', '.join(facts.exec_hosts)}" if facts.exec_hosts else ""
            return self._refuse(BaitOutcome.RETRY, f"job {self.job_id} is not dispatched to bait {self.bait_host}:"
                                f" the batch system shows it {facts.state}{where}")
        self.admitted = facts
        return None

    def _refuse(self, outcome: BaitOutcome, reason: str) -> BaitAnswer:
        LOG.warning("bait request for job %s from %s refused, nothing done: %s", self.job_id, self.bait_host, reason)
        return BaitAnswer(outcome=outcome, reason=reason)

        # -- a request from the job's owner: only for their own job ---------------------------------

    async def refuse_if_not_owner(self, caller_uid: int) -> BaitAnswer | None:
        """A hook that runs as the job's owner (HTCondor's, LSF's pre-exec when not root) asks as
        that user: such a caller may ask for its own job only, never name another user's job on
        the bait. None lets it through; nothing is done to the job either way."""
        p = self.parts
        try:
            facts = await p.calls(p.batch.job_facts, self.job_id)
        except JobNotFound:
            return self._refuse(BaitOutcome.REFUSED, f"the batch system does not know job {self.job_id}")
        except BatchSystemError as exc:
            return self._refuse(BaitOutcome.RETRY, f"could not check whose job {self.job_id} is: {exc}")
        # NSS may ask a directory (LDAP): not on the loop.
        owner = (await asyncio.get_running_loop().run_in_executor(None, account, facts.user)).uid
        if owner != caller_uid:
            known = f"uid {owner}" if owner is not None else "a user this host does not know"
            return self._refuse(BaitOutcome.RETRY, f"job {self.job_id} belongs to {facts.user} ({known}), not to the"
                                f" caller (uid {caller_uid}): a hook running as a user asks for that user's job only")
        return None

    # -- bait_entered: resolve ------------------------------------------------------------------

    async def resolve(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        try:
            facts, self.admitted = self.admitted or await p.calls(p.batch.job_facts, self.job_id), None
        except JobNotFound:
            return p.records.step(flight, JobStep.ENDED, detail="the batch system no longer knows this job")
        except BatchSystemError as exc:
            return await giveback.give_back(p, flight, JobStep.REQUEUED, f"could not read the job's facts: {exc}")
        if facts.state.is_over:
            return p.records.step(flight, JobStep.ENDED, user=facts.user, detail=f"the job is already {facts.state}")
        flight = attrs.evolve(flight, user=facts.user, group=facts.primary_group or "")
        if not facts.movable:
            # Refused before a VWN is booted for it: it could never be moved there, only put back
            # and sent to a bait again, for ever.
            return await giveback.give_back(
                p, flight, JobStep.REFUSED, "cannot be moved to a VWN: the job was submitted not to be rerun or"
                " requeued (PBS: qsub -r n; Slurm: sbatch --no-requeue); submitted without that, the default, it would be")
        try:
            decision = await p.calls(p.chain.resolve, facts)
        except PluginError as exc:  # a resolver slower than plugin_timeout (a directory that hangs)
            return await giveback.give_back(p, flight, JobStep.REQUEUED, f"could not resolve a VM type: {exc}")
        if isinstance(decision, Refused):
            return await giveback.give_back(p, flight, JobStep.REFUSED, decision.reason)
        return p.records.step(flight, JobStep.RESOLVED, vm_type=decision.vm_type, detail=decision.reason,
                              cpus=facts.cpus, memory=facts.memory or 0)

    # -- resolved: place ------------------------------------------------------------------------

    async def place(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        if baits.drained(p):
            return await giveback.give_back(p, flight, JobStep.REQUEUED, f"host {p.policy.host} is drained by its admin")
        if p.quarantine:  # it cannot count what its unrecorded VWNs hold: no new job may overbook it
            return await giveback.give_back(
                p, flight, JobStep.REQUEUED,
                f"host {p.policy.host} has {len(p.quarantine)} VWN(s) it has no record of (quarantined:"
                " see `wnod status`); it takes no new job until they are settled",
            )
        vm_type = p.policy.vm_types.get(flight.vm_type)
        if vm_type is None:  # the config was reloaded meanwhile: decide again
            return p.records.step(flight, JobStep.BAIT_ENTERED, detail=f'VM type "{flight.vm_type}" is gone; resolving again')
        if not flight.cpus:  # resolved by a wnod that kept no request (schema 4): read it again
            return p.records.step(flight, JobStep.BAIT_ENTERED, detail="resolving again: its request was not recorded")
        vm_type = sized(vm_type, flight.cpus, flight.memory)
        if isinstance(vm_type, Oversized):  # no VWN of its type will ever hold it: not worth a boot
            return await giveback.give_back(p, flight, JobStep.REFUSED, vm_type.reason)
        missing = unpublished(p.policy.library, vm_type)
        if missing:  # this host has no version of its image to boot: another host may have one
            return await giveback.give_back(p, flight, JobStep.REQUEUED, missing)
        vwns = p.store.vwns()
        # Busy: acted on now, named by a call that timed out and may still land on it, or named by
        # a job being handed back (a migrate there may have bound it, even in a daemon since dead).
        # And a VWN whose name a job being handed back runs on without wnod: it is not free.
        giving_back = p.store.vwns_of_jobs_at(JobStep.GIVING_BACK)
        strays = p.store.stray_names()
        held = {v.id for v in vwns if p.guards.held(v.id)}
        busy = [v.id for v in vwns if v.id in held or v.id in giving_back or v.hostname in strays
                or (v.hostname and p.calls.fenced(host_fence(v.hostname)))]
        lingering = lifecycle.lingering(p)
        placement = place(vm_type, [*vwns, *lingering], p.policy.vm_types, p.policy.capacity, busy,
                          lifecycle.held_slots(p), owner=(flight.user, flight.group), lingering={v.id for v in lingering},
                          settling=held)
        if isinstance(placement, Reuse):
            vwn = placement.vwn
            _, flight = p.records.commit(
                move=(vwn, VwnState.READY, {"job_id": self.job_id, "reuse_count": vwn.reuse_count + 1,
                                            "last_user": flight.user, "last_group": flight.group}),
                step=(flight, JobStep.VWN_ASSIGNED, {"vwn_id": vwn.id, "reused": True, "detail": "idle VWN reused"}),
            )
            return flight  # type: ignore[return-value]
        if isinstance(placement, Full):
            if await self._wait_for_room(placement):
                return flight  # placed again: a job may have ended, its VWN come free
            return await giveback.give_back(p, flight, JobStep.REQUEUED, placement.reason)
        if isinstance(placement, Wait):  # placed again once one is let go; bait_timeout bounds it all
            if not self.waited:
                LOG.info("job %s: waits: %s", self.job_id, placement.reason)
                self.waited = True
            await p.guards.until_let_go(p.policy.engine.poll_interval)
            return flight
        refused = p.breaker.may_boot(vm_type.name)
        if refused:
            return await giveback.give_back(p, flight, JobStep.REQUEUED, refused)
        if isinstance(placement, Create):
            _, flight = p.records.new_vwn(
                vm_type, placement.slot, p.policy.hostname(placement.slot), self.job_id,
                step=(flight, JobStep.VWN_ASSIGNED, {"reused": False, "attempts": flight.attempts + 1,
                                                     "detail": f"new VWN in slot {placement.slot}"}),
            )
            return flight  # type: ignore[return-value]
        assert isinstance(placement, Evict)
        # Recorded as DESTROYING at once, so no other job takes them meanwhile; then ask again.
        victims = [p.records.move(v, VwnState.DESTROYING) for v in placement.victims]
        await asyncio.gather(*(lifecycle.destroy(p, v, f"room needed for a {vm_type.name} VWN") for v in victims))
        return flight

    async def _wait_for_room(self, full: Full) -> bool:
        """Whether to try placing the job again rather than put it back: for ``engine.full_wait``
        from when it first found the host full. A job ends, and the batch system sends the next one
        to this host's bait, before wnod has seen that end (the next round, or the epilog's notice):
        put back, the job would wait minutes for the batch system to send it again."""
        p = self.parts
        wait = p.policy.engine.full_wait
        if full.lasting or wait <= 0:
            return False
        now = p.clock()
        if self.full_since is None:
            self.full_since = now
            LOG.info("job %s: waits up to %s for room: %s", self.job_id, format_duration(int(wait)), full.reason)
        if now - self.full_since >= wait:
            return False
        await p.guards.until_let_go(min(p.policy.engine.poll_interval, wait - (now - self.full_since)))
        return True

    # -- vwn_assigned: bring up -----------------------------------------------------------------

    async def bring_up(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        vwn = p.store.vwn(flight.vwn_id) if flight.vwn_id else None
        if vwn is None or not vwn.is_alive or vwn.job_id != self.job_id:
            return await self._boot_failed(flight, "its VWN was lost", host_fault=False)
        async with p.guards.acting_on(vwn.id):
            vwn = p.store.vwn(vwn.id) or vwn  # as it is now that it is ours
            if vwn.state is VwnState.CREATING or (vwn.state is VwnState.READY and flight.reused):
                # Mixed mode: its vCPUs reserved from the host's bare-metal jobs before it runs a job.
                no_cpus = await mixed.reserve(p, vwn)
                if no_cpus:
                    if vwn.state is VwnState.READY:  # an idle VWN that cannot take it now: idle again
                        await lifecycle.unassign(p, vwn)
                    return await self._requeue(flight, no_cpus)
            if vwn.state is VwnState.CREATING:
                try:
                    # Closed before it exists: once its batch daemon joins, no job but the one
                    # migrated to it may start there.
                    await p.calls(p.batch.close_host, vwn.hostname, fences=[host_fence(vwn.hostname or "")])
                except BatchSystemError as exc:
                    await lifecycle.destroy(p, vwn, "could not be closed to other jobs")
                    return await self._boot_failed(flight, f"VWN could not be closed to other jobs: {exc}")
                try:
                    await p.calls(p.hypervisor.create, lifecycle.spec(p, vwn),
                                  fences=[vwn_fence(vwn.id), host_fence(vwn.hostname or "")],
                                  undo=self._undo_late_create(vwn.id))
                except HypervisorError as exc:
                    await lifecycle.destroy(p, vwn, "creation failed")
                    return await self._boot_failed(flight, f"VWN could not be created: {one_line(exc)}",
                                                   image_fault=isinstance(exc, ImageUnavailable))
                # Its incarnation is its record's time (before it was closed and made): no
                # registration of its name from before then is its own.
                vwn = p.records.move(vwn, VwnState.BOOTING)
            if vwn.state is VwnState.BOOTING or (vwn.state is VwnState.READY and flight.reused):
                return await self._until_joined(flight, vwn)
            return await self._boot_failed(flight, f"its VWN is {vwn.state}", host_fault=False)

    async def _until_joined(self, flight: JobFlight, vwn: Vwn) -> JobFlight:
        """Wait until the VWN's batch daemon — this incarnation's, not an earlier VWN's under its
        name — has joined; then the VWN is READY for the job, in the same transaction as its step."""
        p = self.parts
        vm_type: VmType = p.policy.vm_types[vwn.vm_type]
        reused = vwn.state is VwnState.READY
        failure, job_over = await self._wait_ready(vwn, flight, p.clock() + vm_type.boot_timeout)
        if failure:
            await lifecycle.destroy(p, vwn, failure)
            if reused:  # an idle VWN that no longer serves: try again, with another
                return p.records.step(flight, JobStep.RESOLVED, vwn_id="", reused=None, detail=f"reused VWN: {failure}")
            if job_over:
                return p.records.step(flight, JobStep.ENDED, detail=job_over)
            return await self._boot_failed(flight, failure)
        if not reused:
            await p.breaker.booted(vwn.vm_type)
        if job_over:
            if vwn.state is VwnState.BOOTING:
                vwn = p.records.move(vwn, VwnState.READY, job_id=None)
            await lifecycle.finish(p, vwn, job_over, flight_step=(flight, JobStep.ENDED, {"detail": job_over}))
            return p.store.job(self.job_id) or flight
        detail = {"detail": f"VWN {vwn.id} joined as {vwn.hostname}"}
        if vwn.state is VwnState.BOOTING:
            _, stepped = p.records.commit(move=(vwn, VwnState.READY, {"job_id": self.job_id}),
                                          step=(flight, JobStep.VWN_READY, detail))
            return stepped  # type: ignore[return-value]
        return p.records.step(flight, JobStep.VWN_READY, **detail)

    async def _wait_ready(self, vwn: Vwn, flight: JobFlight, deadline: float) -> tuple[str, str]:
        """Poll until the VWN has joined the batch system.

        Returns (failure, job_over): failure is why the VWN is no good ("" when it is ready);
        job_over says the job ended meanwhile ("" while it still wants the VWN). A job that ends
        while its VWN boots does not stop the boot: a ready VWN is kept idle for the next job of
        its type.
        """
        p = self.parts
        vm_type: VmType = p.policy.vm_types[vwn.vm_type]
        job_over = ""
        while True:
            try:
                state = await p.calls(p.hypervisor.state, vwn.id)
                if state is not DomainState.RUNNING:
                    return f"its domain is {state} while it boots", job_over
                if vwn.hostname and await p.calls(p.batch.host_ready, vwn.hostname, vwn.incarnation):
                    return "", job_over
            except (HypervisorError, BatchSystemError) as exc:  # passing: asked again until the deadline
                LOG.warning("VWN %s: cannot tell whether it is ready yet: %s", vwn.id, exc)
            if not job_over:
                job_over = await self._job_gone()
            if p.clock() >= deadline:
                return f"VWN did not join the batch system within {vm_type.boot_timeout:g}s", job_over
            if self._past_bait_timeout(flight):  # _boot_failed puts the job back to pending
                return "VWN did not join the batch system before engine.bait_timeout", job_over
            await asyncio.sleep(p.policy.engine.poll_interval)

    async def _job_gone(self) -> str:
        p = self.parts
        try:
            facts = await p.calls(p.batch.job_facts, self.job_id)
        except JobNotFound:
            return "the job left the batch system while its VWN booted"
        except BatchSystemError:
            return ""  # cannot tell now; asked again at the next poll
        return f"the job was {facts.state} while its VWN booted" if facts.state.is_over else ""

    def _undo_late_create(self, vwn_id: str) -> Callable[[], Awaitable[None]]:
        async def undo() -> None:
            # The create wnod gave up on made the domain after all: its record is gone or going.
            p = self.parts
            vwn = p.store.vwn(vwn_id)
            if vwn is None or not vwn.is_alive:
                await p.calls(p.hypervisor.destroy, vwn_id)

        return undo

    async def _boot_failed(self, flight: JobFlight, reason: str, *, host_fault: bool = True,
                           image_fault: bool = False) -> JobFlight:
        """A VWN for the job could not be brought up: another try, or the job goes back to pending.
        A boot fails for a reason of the host or its image (`image_fault`), never of the job."""
        p = self.parts
        LOG.warning("job %s: %s (try %d)", self.job_id, reason, flight.attempts)
        if host_fault and flight.vm_type:
            await p.breaker.failed(flight.vm_type, reason, host_wide=not image_fault)
        if self._past_bait_timeout(flight):
            return await self._requeue(flight, f"waited too long for a VWN (longer than engine.bait_timeout); last: {reason}")
        if flight.attempts <= p.policy.engine.boot_retries:
            return p.records.step(flight, JobStep.RESOLVED, vwn_id="", reused=None, detail=f"trying again: {reason}")
        await self._drop_vwn(flight, reason)
        why = f"no VWN after {flight.attempts} tries; last: {reason}"
        if p.policy.engine.on_boot_failure is BootFailure.RELEASE:
            return await giveback.give_back(p, flight, JobStep.RELEASED, f"{why}; runs outside a VWN by site policy")
        if p.policy.engine.on_boot_failure is BootFailure.HOLD:
            return await giveback.give_back(p, flight, JobStep.HELD, f"{why}; held for the admin by site policy")
        return await giveback.give_back(p, flight, JobStep.REQUEUED, f"{why}; back to pending, for another host")

    async def _requeue(self, flight: JobFlight, reason: str) -> JobFlight:
        await self._drop_vwn(flight, reason)
        return await giveback.give_back(self.parts, flight, JobStep.REQUEUED, reason)

    async def _drop_vwn(self, flight: JobFlight, reason: str) -> None:
        p = self.parts
        if flight.vwn_id:
            vwn = p.store.vwn(flight.vwn_id)
            if vwn is not None and vwn.is_alive and vwn.job_id == self.job_id:
                await lifecycle.destroy(p, vwn, reason)

    # -- vwn_ready: migrate ---------------------------------------------------------------------

    async def migrate(self, flight: JobFlight) -> JobFlight:
        p = self.parts
        vwn = p.store.vwn(flight.vwn_id) if flight.vwn_id else None
        if vwn is None or vwn.state is not VwnState.READY or vwn.job_id != self.job_id or not vwn.hostname:
            return await self._boot_failed(flight, "its VWN was lost before the job moved", host_fault=False)
        if p.calls.fenced(job_fence(self.job_id)):
            # A release of this job that timed out may still land: it would unbind the job again.
            await asyncio.sleep(p.policy.engine.poll_interval)
            return flight
        async with p.guards.acting_on(vwn.id):
            try:
                facts = await p.calls(p.batch.job_facts, self.job_id)
            except JobNotFound:
                facts = None
            except BatchSystemError as exc:
                await lifecycle.finish(p, vwn, "its job could not be moved")
                return await giveback.give_back(p, flight, JobStep.REQUEUED, f"could not read the job's facts: {exc}")
            if facts is None or facts.state.is_over:
                detail = "the job left the batch system before it moved"
                await lifecycle.finish(p, vwn, "its job left before it moved", flight_step=(flight, JobStep.ENDED, {"detail": detail}))
                return p.store.job(self.job_id) or flight
            running = facts.exec_hosts if facts.state is JobState.RUNNING else ()
            if running == (vwn.hostname,):
                # Bound and started there already (a migrate of a daemon killed before it recorded it).
                return p.records.step(flight, JobStep.MIGRATED, detail=f"bound to {vwn.hostname}, running there")
            elsewhere = [h for h in running if h != self.bait_host]
            if stray := lifecycle.stray_name(p, elsewhere):
                # On a VWN of this host that wnod did not give it (a dead daemon's late binding):
                # taken off it and put back to pending, never recorded as running "elsewhere".
                await lifecycle.finish(p, vwn, "its job runs on another VWN")
                return await giveback.give_back(p, flight, JobStep.REQUEUED,
                                                f"it runs on {', '.join(elsewhere)}, a VWN of this host that wnod did"
                                                " not give it; back to pending", stray_on=stray)
            if elsewhere:
                # Migrate acts on a job wherever it runs: never on one the batch system ran elsewhere.
                detail = f"the batch system runs it on {', '.join(elsewhere)}, not on its bait"
                await lifecycle.finish(p, vwn, "its job runs elsewhere", flight_step=(flight, JobStep.RELEASED, {"detail": detail}))
                return p.store.job(self.job_id) or flight
            try:
                await p.calls(p.batch.migrate, self.job_id, vwn.hostname,
                              fences=[job_fence(self.job_id), host_fence(vwn.hostname)],
                              undo=self._undo_late_migrate(vwn.id, vwn.hostname))
            except JobNotFound:
                detail = "the job left the batch system before it moved"
                await lifecycle.finish(p, vwn, "its job left before it moved", flight_step=(flight, JobStep.ENDED, {"detail": detail}))
                return p.store.job(self.job_id) or flight
            except BatchSystemError as exc:
                await lifecycle.finish(p, vwn, "its job could not be moved")
                return await giveback.give_back(p, flight, JobStep.REQUEUED, f"could not move the job: {exc}")
            return p.records.step(flight, JobStep.MIGRATED, detail=f"bound to {vwn.hostname}")

    def _undo_late_migrate(self, vwn_id: str, hostname: str) -> Callable[[], Awaitable[None]]:
        async def undo() -> None:
            # The migrate wnod gave up on bound the job after all: unless the records say it is
            # moved to that VWN, it must not stay bound to its host name. The host first: the
            # migrate opened it for the job, which must not start there meanwhile.
            p = self.parts
            flight = p.store.job(self.job_id)
            if flight is not None and flight.step in _MIGRATED and flight.vwn_id == vwn_id:
                return
            await p.calls(p.batch.close_host, hostname)
            try:
                await p.calls(p.batch.release, self.job_id, "wnod gave up on moving it to a VWN")
            except JobNotFound:
                pass

        return undo

    async def asked_again(self, flight: JobFlight) -> BaitAnswer:
        """A bait asks for a job the records have on its VWN already (its hook retried, or the
        batch system sent the job to the bait again): bound again if it really is on the bait."""
        p = self.parts
        vwn = p.store.vwn(flight.vwn_id)
        if vwn is not None and vwn.state is VwnState.READY and vwn.job_id == flight.job_id and vwn.hostname:
            try:
                facts = await p.calls(p.batch.job_facts, self.job_id)
                if facts.state is JobState.RUNNING and facts.exec_hosts == (self.bait_host,):
                    async with p.guards.acting_on(vwn.id):
                        await p.calls(p.batch.migrate, self.job_id, vwn.hostname,
                                      fences=[job_fence(self.job_id), host_fence(vwn.hostname)],
                                      undo=self._undo_late_migrate(vwn.id, vwn.hostname))
            except BatchSystemError as exc:  # the upkeep sees the job's fate on its next pass
                LOG.warning("job %s: migrating again failed: %s", self.job_id, exc)
        return self._answer(flight, vwn)

    # -- giving_back: hand back -----------------------------------------------------------------

    async def hand_back(self, flight: JobFlight) -> JobFlight:
        """A give-back a kill or the batch system cut short: ask again."""
        return await giveback.finish_give_back(self.parts, flight)


HANDLERS: dict[JobStep, Callable[[JobDriver, JobFlight], Awaitable[JobFlight]]] = {
    JobStep.BAIT_ENTERED: JobDriver.resolve,
    JobStep.RESOLVED: JobDriver.place,
    JobStep.VWN_ASSIGNED: JobDriver.bring_up,
    JobStep.VWN_READY: JobDriver.migrate,
    JobStep.GIVING_BACK: JobDriver.hand_back,
}
"""The driver's handler of each step; at any other step the bait has its answer."""
