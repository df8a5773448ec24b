"""A host's engine wired to the in-memory fakes, with a clock the tests can move."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from wnod_core.chain import Link, ResolverChain
from wnod_core.config.schema import EngineSection
from wnod_core.engine import Engine, HostPolicy, Parts, Store
from wnod_core.interfaces import BaitOutcome, Resolver
from wnod_core.model import HostCapacity, JobFacts, Refused, Resolved, ReusePolicy, VmType
from wnod_core.model.events import JobStepped, VwnChanged
from wnod_core.testing.fakes import FakeBatchSystem, FakeHypervisor

HOST = "hv01.farm.test"


class ByQueue(Resolver):
    """Queue "blue" → type blue, "red" → red, "nope" refused, "slow" → blue after half a second
    (a resolver asking a slow directory), others pass."""

    def resolve(self, job: JobFacts):
        if job.queue == "slow":
            time.sleep(0.5)
            return Resolved("blue", "queue slow")
        if job.queue == "nope":
            return Refused(f"queue nope is closed to user {job.user}")
        if job.queue in ("blue", "red"):
            return Resolved(job.queue, f"queue {job.queue}")
        return None


class Heard:
    def __init__(self) -> None:
        self.vwns: list[VwnChanged] = []
        self.steps: list[JobStepped] = []

    def vwn_changed(self, event: VwnChanged) -> None:
        self.vwns.append(event)

    def job_step(self, event: JobStepped) -> None:
        self.steps.append(event)


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@attrs.define
class Host:
    """One hypervisor host under test: its engine, the fakes behind it, and what was heard."""

    batch: FakeBatchSystem
    hypervisor: FakeHypervisor
    heard: Heard
    clock: Clock
    store_path: Path
    policy: HostPolicy
    joins: bool = True
    """Whether a new VWN's batch daemon joins as soon as its domain starts."""
    engine: Engine | None = None

    def new_engine(self) -> Engine:
        """An engine over the same records: what a restarted daemon gets."""
        parts = Parts(
            policy=self.policy,
            store=Store(self.store_path),
            batch=self.batch,
            hypervisor=self.hypervisor,
            chain=ResolverChain([Link("by-queue (resolvers[0])", ByQueue())], self.policy.vm_types),
            listeners=self.heard,
            clock=self.clock,
        )
        self.engine = Engine(parts)
        return self.engine

    def reconfigure(
        self,
        *,
        max_vwns: int | None = None,
        engine: dict[str, object] | None = None,
        reuse: dict[str, object] | None = None,
        **vm_type_changes: object,
    ) -> Engine:
        """A new engine over the same records with the host's policy changed: one VWN's room
        for `max_vwns=1`, `engine` keys of ``[engine]``, VM-type keys for every type."""
        policy = self.policy
        if max_vwns is not None:
            policy = attrs.evolve(policy, capacity=HostCapacity(vcpus=2 * max_vwns, memory=f"{2 * max_vwns}GiB",
                                                                max_vwns=max_vwns))
        if engine:
            policy = attrs.evolve(policy, engine=attrs.evolve(policy.engine, **engine))
        if reuse:
            vm_type_changes["reuse"] = ReusePolicy(**reuse)
        if vm_type_changes:
            policy = attrs.evolve(
                policy, vm_types={k: attrs.evolve(v, **vm_type_changes) for k, v in policy.vm_types.items()}
            )
        self.policy = policy
        return self.new_engine()

    def submit(self, queue: str = "blue", user: str = "alice") -> str:
        job = self.batch.submit(user, groups=("physics",), queue=queue)
        self.batch.dispatch_to_bait(job.job_id, "bait01")
        return job.job_id

    async def bait(self, job_id: str):
        assert self.engine is not None
        return await asyncio.wait_for(self.engine.bait(job_id, "bait01"), 10)

    async def through(self, queue: str = "blue", user: str = "alice") -> str:
        """A job of `user` in `queue` baited, migrated, run and over, then a round: its VWN's id."""
        job = self.submit(queue, user=user)
        answer = await self.bait(job)
        assert answer.outcome is BaitOutcome.MIGRATED, answer
        self.batch.start(job)
        self.batch.finish(job)
        assert self.engine is not None
        await self.engine.round()
        return answer.vwn_id


def vm_types(max_reuses: int = 100, idle_ttl: str = "30m", boot_timeout: str = "1s") -> dict[str, VmType]:
    reuse = ReusePolicy(max_reuses=max_reuses, idle_ttl=idle_ttl)
    return {
        name: VmType(name=name, image=f"{name}.img", vcpus=2, memory="2GiB", boot_timeout=boot_timeout, reuse=reuse)
        for name in ("blue", "red")
    }


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    clock = Clock()
    batch = FakeBatchSystem(clock=clock)  # one clock for the engine and the world around it
    holder: dict[str, Host] = {}

    def joined(spec) -> None:
        if holder["host"].joins:
            batch.register_host(spec.hostname)

    hypervisor = FakeHypervisor(on_create=joined, on_destroy=lambda spec: batch.unregister_host(spec.hostname))
    policy = HostPolicy(
        host=HOST,
        capacity=HostCapacity(vcpus=4, memory="4GiB", max_vwns=2),
        # A full host puts the job back at once here (full_wait 0); tests of the wait set their own.
        engine=EngineSection(poll_interval="0.01s", boot_retries=1, full_wait="0s"),
        vm_types=vm_types(),
    )
    h = Host(batch, hypervisor, Heard(), clock, tmp_path / "state" / "wnod.db", policy)
    holder["host"] = h
    h.new_engine()
    yield h
