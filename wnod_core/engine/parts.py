"""What every piece of the engine works with, and the moves they all make the same way.

Records first, then action: each helper writes the new state to the store before (or
instead of) telling anyone, and tells the lifecycle hooks right after.
"""

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from ..chain import ResolverChain
from ..config.schema import EngineSection
from ..errors import BatchSystemError, HypervisorError, JobNotFound, PluginError, WnodError
from ..interfaces import BatchSystem, Hypervisor, VwnSpec
from ..model import HostCapacity, VmType, Vwn, VwnState
from ..model.events import JobStep, JobStepped, VwnChanged
from ..model.flight import FINAL_STEPS, JobFlight
from ..text import one_line
from .placement import has_size_of
from .store import Store

if TYPE_CHECKING:
    from ..config import Config

LOG = logging.getLogger("wnod.engine")

T = TypeVar("T")

PLUGIN_THREADS = 32
"""Plugin calls under way at once, at most; more wait for a thread."""


class Listeners(Protocol):
    """Who hears about every change: the plugins' broadcast hooks (``Plugins`` is one)."""

    def vwn_changed(self, event: VwnChanged) -> None: ...

    def job_step(self, event: JobStepped) -> None: ...


@attrs.frozen
class HostPolicy:
    """This host's settings, as the engine needs them."""

    host: str
    capacity: HostCapacity
    engine: EngineSection
    vm_types: Mapping[str, VmType]

    @classmethod
    def from_config(cls, config: "Config") -> "HostPolicy":
        host = config.host
        return cls(
            host=host.name,
            capacity=HostCapacity(vcpus=host.vcpus, memory=host.memory, max_vwns=host.max_vwns),
            engine=config.engine,
            vm_types=config.vm_types,
        )

    @property
    def short_host(self) -> str:
        return self.host.split(".")[0].lower()

    def hostname(self, slot: int) -> str:
        return self.engine.vwn_hostname.format(host=self.short_host, slot=slot)


class Busy(Collection[str]):
    """The VWNs some coroutine is acting on now, with how many hold each: one holder letting go
    leaves a VWN busy while another still acts on it (a set would forget the second)."""

    def __init__(self) -> None:
        self._holders: Counter[str] = Counter()

    def add(self, vwn_id: str) -> None:
        self._holders[vwn_id] += 1

    def discard(self, vwn_id: str) -> None:
        """One holder lets go (each `add` is matched by one `discard`)."""
        if self._holders[vwn_id] <= 1:
            del self._holders[vwn_id]
        else:
            self._holders[vwn_id] -= 1

    def update(self, vwn_ids: Iterable[str]) -> None:
        for vwn_id in vwn_ids:
            self.add(vwn_id)

    def difference_update(self, vwn_ids: Iterable[str]) -> None:
        for vwn_id in vwn_ids:
            self.discard(vwn_id)

    def __contains__(self, vwn_id: object) -> bool:
        return vwn_id in self._holders

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._holders))

    def __len__(self) -> int:
        return len(self._holders)


class Parts:
    """The store, the plugins and the clock, shared by the flow, the upkeep and reconciliation."""

    def __init__(
        self,
        *,
        policy: HostPolicy,
        store: Store,
        batch: BatchSystem,
        hypervisor: Hypervisor,
        chain: ResolverChain,
        listeners: Listeners,
        clock: Callable[[], float] = time.time,
    ):
        self.policy = policy
        self.store = store
        self.batch = batch
        self.hypervisor = hypervisor
        self.chain = chain
        self.listeners = listeners
        self.clock = clock
        self.executor = ThreadPoolExecutor(max_workers=PLUGIN_THREADS, thread_name_prefix="wnod-plugin")
        """Where plugins' blocking calls run: the engine's own, so a hung plugin cannot take the
        event loop's default executor (and whatever else uses it) down with it."""
        self._closed = False
        self.busy = Busy()
        """VWNs some coroutine is acting on now; the upkeep leaves them alone."""
        self.quarantine: dict[str, Any] = {}
        """Domains of this host with no record, not adopted yet (vwn id -> strays.Quarantined)."""

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a plugin's blocking call in one of the engine's worker threads, so the event loop
        keeps serving, for at most ``engine.plugin_timeout``.

        A call that takes longer raises its plugin's error (BatchSystemError for the batch
        system's, HypervisorError for the hypervisor's, PluginError otherwise), so the usual
        handling applies; its thread cannot be stopped and finishes in the background.
        """
        if self._closed:  # a task that outlived close() (a cancel can be lost): it stops here
            raise asyncio.CancelledError("the engine is closed")
        loop = asyncio.get_running_loop()
        timeout = self.policy.engine.plugin_timeout
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.executor, partial(function, *args)), timeout)
        except TimeoutError:
            raise self._error_of(function)(
                f"{getattr(function, '__qualname__', function)} took longer than engine.plugin_timeout"
                f" ({timeout:g}s)"
            ) from None

    def _error_of(self, function: Callable[..., Any]) -> type[WnodError]:
        owner = getattr(function, "__self__", None)
        if owner is self.batch or isinstance(owner, BatchSystem):
            return BatchSystemError
        if owner is self.hypervisor or isinstance(owner, Hypervisor):
            return HypervisorError
        return PluginError

    def close(self, *, wait: bool = False) -> None:
        """Take no more plugin calls; those queued are dropped. `wait`: until running ones return."""
        self._closed = True
        self.executor.shutdown(wait=wait, cancel_futures=True)

    # -- records ---------------------------------------------------------------------------------

    def new_vwn(self, vm_type: VmType, slot: int, job_id: str | None) -> Vwn:
        now = self.clock()
        vwn = Vwn(
            id=f"{self.policy.short_host}-s{slot}-{secrets.token_hex(3)}",
            host=self.policy.host,
            vm_type=vm_type.name,
            state=VwnState.CREATING,
            created_at=now,
            updated_at=now,
            hostname=self.policy.hostname(slot),
            job_id=job_id,
            image_version=vm_type.image_version,
            slot=slot,
            vcpus=vm_type.vcpus,
            memory=vm_type.memory,
        )
        self.store.add_vwn(vwn)
        self._tell_vwn(vwn, None)
        return vwn

    def move(self, vwn: Vwn, state: VwnState, **changes: Any) -> Vwn:
        after = vwn.moved_to(state, self.clock(), **changes)
        self.store.update_vwn(vwn, after)
        self._tell_vwn(after, vwn.state)
        return after

    def step(self, flight: JobFlight, step: JobStep, **changes: Any) -> JobFlight:
        after = flight.at_step(step, self.clock(), **changes)
        self.store.save_job(after)
        self._tell(
            self.listeners.job_step,
            JobStepped(
                job_id=after.job_id,
                step=step,
                at=after.updated_at,
                host=self.policy.host,
                user=after.user,
                vm_type=after.vm_type,
                vwn_id=after.vwn_id,
                reused=after.reused,
                detail=after.detail,
                times=after.times,
            ),
        )
        return after

    def held_slots(self) -> set[int]:
        """Slots of gone VWNs whose host name a job may still be bound to: a job moved there that
        wnod has not handed back to the batch system yet. A new VWN there would get the name,
        and the job with it."""
        # Asked at every placement: one query for the few such jobs, not a read of every job in
        # flight and of each one's VWN (that made a burst of placements quadratic).
        steps = (JobStep.MIGRATED, JobStep.STARTED, JobStep.GIVING_BACK)
        return {
            vwn.slot
            for flight, vwn in self.store.jobs_of_destroyed_vwns(steps)
            if flight.time_of(JobStep.MIGRATED) is not None
        }

    def spec(self, vwn: Vwn) -> VwnSpec:
        vm_type = self.policy.vm_types[vwn.vm_type]
        if vwn.vcpus and not has_size_of(vwn, vm_type):  # made before a reload resized its type
            vm_type = attrs.evolve(vm_type, vcpus=vwn.vcpus, memory=vwn.memory)
        return VwnSpec(
            vwn_id=vwn.id,
            vm_type=vm_type,
            host=self.policy.host,
            hostname=vwn.hostname or self.policy.hostname(vwn.slot),
        )

    def _tell_vwn(self, vwn: Vwn, previous: VwnState | None) -> None:
        self._tell(self.listeners.vwn_changed, VwnChanged(vwn=vwn, previous=previous, at=vwn.updated_at))

    @staticmethod
    def _tell(listener: Callable[[Any], None], event: object) -> None:
        try:
            listener(event)
        except Exception:  # the plugin facade isolates hooks already; this guards other listeners
            LOG.exception("a listener failed on %s", event)

    # -- the moves every part makes --------------------------------------------------------------

    async def destroy(self, vwn: Vwn, why: str) -> Vwn:
        """Record the intent, destroy the domain and its disk, record it gone.

        If the hypervisor fails, the VWN stays DESTROYING and the upkeep tries again:
        it is never forgotten while something of it may remain.
        """
        if vwn.state is VwnState.DESTROYED:
            return vwn
        if vwn.state is not VwnState.DESTROYING:
            # The job stays on the record until the VWN is gone: a daemon killed meanwhile still
            # knows whose VWN it was (the rounds requeue a migrated job whose VWN is going).
            vwn = self.move(vwn, VwnState.DESTROYING)
        LOG.info("destroying VWN %s (%s): %s", vwn.id, vwn.hostname, why)
        try:
            await self.call(self.hypervisor.destroy, vwn.id)
        except HypervisorError as exc:
            LOG.warning("VWN %s not destroyed yet, will try again: %s", vwn.id, exc)
            return vwn
        return self.move(vwn, VwnState.DESTROYED, job_id=None)

    async def finish(self, vwn: Vwn, why: str) -> Vwn:
        """The VWN's job is over (or never came): close it, then keep it idle or destroy it."""
        if vwn.state in (VwnState.READY, VwnState.RUNNING):
            vwn = self.move(vwn, VwnState.CLEANING, job_id=None)
        if vwn.state is not VwnState.CLEANING:
            return vwn
        if vwn.hostname:
            try:
                await self.call(self.batch.close_host, vwn.hostname)
            except BatchSystemError as exc:
                # A VWN that may still take jobs must not be kept: another job could land on it.
                return await self.destroy(vwn, f"could not be closed to new jobs: {exc}")
        keep, reason = self.worth_keeping(vwn)
        if not keep:
            return await self.destroy(vwn, f"{why}; {reason}")
        vm_type = self.policy.vm_types[vwn.vm_type]
        if vm_type.reuse.scratch_reset:
            try:
                await self.call(self.hypervisor.reset_scratch, vwn.id)
            except HypervisorError as exc:
                return await self.destroy(vwn, f"scratch disk could not be reset: {one_line(exc)}")
        return self.move(vwn, VwnState.IDLE)

    def worth_keeping(self, vwn: Vwn) -> tuple[bool, str]:
        vm_type = self.policy.vm_types.get(vwn.vm_type)
        if vm_type is None:
            return False, f'VM type "{vwn.vm_type}" is no longer configured'
        if vwn.image_version != vm_type.image_version:
            return False, f'VM type "{vwn.vm_type}" has a new image version ({vm_type.image_version!r})'
        if not has_size_of(vwn, vm_type):
            return False, (
                f'VM type "{vwn.vm_type}" is now {vm_type.vcpus} vCPUs and {vm_type.memory} bytes'
                f" (it was made with {vwn.vcpus} and {vwn.memory})"
            )
        if vwn.reuse_count >= vm_type.reuse.max_reuses:
            return False, f"it took its last job ({vwn.reuse_count + 1} of {vm_type.reuse.max_reuses + 1})"
        return True, ""

    async def give_back(self, flight: JobFlight, step: JobStep, reason: str) -> JobFlight:
        """End wnod's part in a job that is not migrated (or whose VWN is lost): requeue it,
        release it or fail it.

        Intent first: ``GIVING_BACK`` is recorded, then the batch system is asked (release and
        fail are idempotent), then the final `step`. A daemon killed in between, or a batch
        system that refused, leaves the job at ``GIVING_BACK``, which the rounds and the next
        daemon finish with `finish_give_back`; the job is never left bound to a VWN wnod gave up.
        """
        assert step in FINAL_STEPS and step is not JobStep.ENDED, step
        flight = self.step(flight, JobStep.GIVING_BACK, giving_back_as=step, detail=reason)
        return await self.finish_give_back(flight)

    async def finish_give_back(self, flight: JobFlight) -> JobFlight:
        """Ask the batch system to take back a job at ``GIVING_BACK``, then record its final step.

        Returns the flight still at ``GIVING_BACK`` if the batch system could not be told (tried
        again by the next round) unless that has gone on for longer than ``engine.bait_timeout``.
        """
        step = flight.giving_back_as
        assert flight.step is JobStep.GIVING_BACK and step is not None, flight
        action = self.batch.fail if step in (JobStep.FAILED, JobStep.REFUSED) else self.batch.release
        try:
            await self.call(action, flight.job_id, flight.detail)
        except JobNotFound:
            pass  # the batch system forgot the job: nothing of it is left to hand back
        except Exception as exc:  # BatchSystemError, or a plugin breaking its contract
            given_up = self.clock() - flight.updated_at > self.policy.engine.bait_timeout
            if isinstance(exc, BatchSystemError):
                LOG.warning("job %s: %s failed%s: %s", flight.job_id, action.__name__,
                            "; giving up" if given_up else ", will try again", exc)
            else:
                LOG.exception("job %s: %s failed%s", flight.job_id, action.__name__,
                              "; giving up" if given_up else ", will try again")
            if not given_up:
                return flight
        now = self.store.job(flight.job_id)
        if now is not None and now.step is not JobStep.GIVING_BACK:
            return now  # another part of the engine finished it meanwhile: recorded once
        return self.step(flight, step, giving_back_as=None)
