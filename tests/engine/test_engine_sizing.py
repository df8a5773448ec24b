"""VWNs sized from their job's request, within their type's bounds: one type for 1-core and 4-core
jobs, an idle VWN reused for a job of its very size, the host packing VWNs of different sizes."""

import asyncio
import re
import tomllib
from pathlib import Path

import attrs
import pytest

from wnod_core.config.convert import structure
from wnod_core.engine.placement import Create, Evict, Reuse, place, worth_keeping
from wnod_core.engine.sizing import Oversized, made_now, size_for, sized
from wnod_core.engine.store import Store
from wnod_core.engine.strays import StrayDecision
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import HostCapacity, VmType, Vwn, VwnState
from wnod_core.model.events import JobStep
from wnod_core.model.flight import JobFlight
from wnod_core.model.units import parse_size
from wnod_core.testing.kills import Killed, kill_after

GiB = 1024**3


def run(coro):
    return asyncio.run(coro)


EL9 = VmType(name="el9", image="el9.img", vcpus=1, memory="2GiB", max_vcpus=8, max_memory="16GiB")
FIXED = VmType(name="fixed", image="f.img", vcpus=2, memory="2GiB")


def test_a_job_gets_its_types_least_size_or_what_it_asked_within_the_most():
    assert size_for(EL9, 1, 0) == (1, 2 * GiB), "asked nothing: the least"
    assert size_for(EL9, 4, 0) == (4, 2 * GiB)
    assert size_for(EL9, 1, 1 * GiB) == (1, 2 * GiB), "less than the least: the least"
    assert size_for(EL9, 2, 3 * GiB + 1) == (2, 4 * GiB), "rounded up to memory_step"
    assert size_for(EL9, 8, 16 * GiB) == (8, 16 * GiB)
    stepped = VmType(name="s", image="s.img", memory="1GiB", max_memory="5000MiB", memory_step="2GiB")
    assert size_for(stepped, 1, 4500 * 1024**2) == (1, 5000 * 1024**2), "rounded up, but never past the most"
    assert size_for(FIXED, 2, 2 * GiB) == (2, 2 * GiB) and size_for(FIXED, 1, 0) == (2, 2 * GiB)


def test_a_job_asking_more_than_its_type_makes_is_oversized_naming_what_to_set():
    too_many = size_for(EL9, 9, 0)
    assert isinstance(too_many, Oversized)
    assert too_many.reason == 'the job asks for 9 CPUs; a VWN of type "el9" has at most 8'
    fixed = size_for(FIXED, 4, 0)
    assert isinstance(fixed, Oversized) and "at most 2 (its max_vcpus is unset)" in fixed.reason
    memory = size_for(FIXED, 1, 3 * GiB)
    assert isinstance(memory, Oversized)
    assert memory.reason == 'the job asks for 3 GiB of memory; a VWN of type "fixed" has at most 2 GiB (its max_memory is unset)'


def test_the_sized_type_is_the_vwns_own_size_and_the_least_one_is_the_type_itself():
    assert sized(EL9, 1, 0) is EL9
    four = sized(EL9, 4, 5 * GiB)
    assert (four.name, four.vcpus, four.memory, four.max_vcpus, four.max_memory) == ("el9", 4, 5 * GiB, None, None)
    assert made_now(4, 5 * GiB, EL9) and made_now(1, 2 * GiB, EL9) and made_now(8, 16 * GiB, EL9)
    assert not made_now(4, 5 * GiB + 1, EL9), "not a size of its memory steps"
    assert not made_now(16, 2 * GiB, EL9) and not made_now(1, GiB, EL9)


def _vwn(n: int, vcpus: int, memory: int = 2 * GiB, state: VwnState = VwnState.IDLE, vm_type: str = "el9") -> Vwn:
    return Vwn(id=f"v{n}", host="hv01", vm_type=vm_type, state=state, created_at=0.0, updated_at=float(n), slot=n,
               vcpus=vcpus, memory=memory, last_user="alice", last_group="physics")


CAPACITY = HostCapacity(vcpus=8, memory="32GiB", max_vwns=4)
TYPES = {"el9": EL9}


def test_an_idle_vwn_is_reused_only_for_a_job_of_its_very_size():
    idle = [_vwn(1, 4), _vwn(2, 1)]
    owner = ("alice", "physics")
    assert place(sized(EL9, 4, 0), idle, TYPES, CAPACITY, owner=owner) == Reuse(idle[0])
    assert place(sized(EL9, 1, 0), idle, TYPES, CAPACITY, owner=owner) == Reuse(idle[1])
    # A 2-core job takes neither (the 4-core one would hold two cores idle for its whole run): a new one.
    assert place(sized(EL9, 2, 0), idle, TYPES, CAPACITY, owner=owner) == Create(3)


def test_the_host_packs_vwns_of_different_sizes_and_evicts_idle_ones_of_another_size_for_room():
    running = [_vwn(1, 4, state=VwnState.RUNNING), _vwn(2, 2, state=VwnState.RUNNING)]
    assert place(sized(EL9, 2, 0), running, TYPES, CAPACITY) == Create(3), "4 + 2 + 2 of 8 vCPUs"
    idle = [_vwn(2, 2), _vwn(3, 2)]
    evict = place(sized(EL9, 4, 0), [running[0], *idle], TYPES, CAPACITY)
    assert evict == Evict(tuple(idle)), "a 4-core job beside a 4-core one needs both idle 2-core VWNs' cores"
    assert place(sized(EL9, 8, 0), [], TYPES, HostCapacity(vcpus=4, memory="32GiB", max_vwns=4)).lasting


def test_a_vwn_is_kept_while_its_type_makes_its_size():
    assert worth_keeping(_vwn(1, 4, 5 * GiB), EL9) == (True, "")
    narrower = VmType(name="el9", image="el9.img", vcpus=1, memory="2GiB", max_vcpus=2)
    keep, why = worth_keeping(_vwn(1, 4), narrower)
    assert not keep
    assert why == ('VM type "el9" no longer makes VWNs of 4 vCPUs and 2147483648 bytes'
                   " (it is now 1-2 vCPUs and 2147483648-2147483648 bytes in steps of 1073741824)")


# -- the engine ---------------------------------------------------------------------------------


@pytest.fixture
def sized_host(host):
    host.reconfigure(max_vcpus=4, max_memory="4GiB")  # blue and red: 2 to 4 vCPUs, 2 to 4 GiB; the host 4 and 4
    return host


def _submit(host, cpus: int = 1, memory: int | None = None, queue: str = "blue") -> str:
    job = host.batch.submit("alice", groups=("physics",), queue=queue, cpus=cpus, memory=memory).job_id
    host.batch.dispatch_to_bait(job, "bait01")
    return job


def _done(host, job: str) -> None:
    host.batch.start(job)
    host.batch.finish(job)


def test_a_job_gets_a_vwn_of_the_size_it_asked_for_and_the_next_of_that_size_reuses_it(sized_host):
    host = sized_host

    async def flow():
        big = _submit(host, cpus=4, memory=3 * GiB + 1)
        answer = await host.bait(big)
        assert answer.outcome is BaitOutcome.MIGRATED
        [spec] = [c[0] for c in host.hypervisor.calls_to("create")]
        assert (spec.vm_type.vcpus, spec.vm_type.memory) == (4, 4 * GiB), "the domain is made at the job's size"
        vwn = host.engine.parts.store.vwn(answer.vwn_id)
        assert (vwn.vcpus, vwn.memory) == (4, 4 * GiB)
        assert (host.engine.parts.store.job(big).cpus, host.engine.parts.store.job(big).memory) == (4, 3 * GiB + 1)
        _done(host, big)
        await host.engine.round()
        again = await host.bait(_submit(host, cpus=4, memory=4 * GiB))
        assert (again.vwn_id, host.engine.parts.store.vwn(again.vwn_id).reuse_count) == (answer.vwn_id, 1)
        _done(host, host.engine.parts.store.vwn(again.vwn_id).job_id)
        await host.engine.round()
        # A 1-core job (2, its type's least) does not take the 4-core VWN: it is evicted for room.
        small = await host.bait(_submit(host))
        assert small.outcome is BaitOutcome.MIGRATED and small.vwn_id != answer.vwn_id
        assert host.engine.parts.store.vwn(answer.vwn_id).state is VwnState.DESTROYED
        assert host.engine.parts.store.vwn(small.vwn_id).vcpus == 2

    run(flow())
    assert len(host.hypervisor.calls_to("create")) == 2


def test_two_small_vwns_fill_the_host_a_big_job_then_goes_back_to_pending(sized_host):
    host = sized_host

    async def flow():
        first, second = await asyncio.gather(host.bait(_submit(host)), host.bait(_submit(host, cpus=2)))
        assert first.outcome is second.outcome is BaitOutcome.MIGRATED
        big = _submit(host, cpus=4)
        return big, await host.bait(big)

    big, answer = run(flow())
    assert answer.outcome is BaitOutcome.RETRY and "this host is full" in answer.reason
    assert host.batch.calls_to("release")[-1][0] == big


def test_a_job_asking_more_than_its_type_makes_is_refused_before_any_boot(sized_host):
    host = sized_host
    job = _submit(host, cpus=6)
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.REFUSED
    assert answer.reason.endswith('the job asks for 6 CPUs; a VWN of type "blue" has at most 4')
    assert host.hypervisor.calls_to("create") == []
    assert host.batch.calls_to("fail") == [(job, answer.reason)]
    assert host.engine.parts.store.job(job).step is JobStep.REFUSED


def test_the_size_asked_for_survives_a_restart_between_resolving_and_placing(tmp_path):
    store = Store(tmp_path / "sized.db")
    flight = JobFlight.entered("9", "bait01", 1.0).at_step(JobStep.RESOLVED, 2.0, vm_type="blue", cpus=4,
                                                           memory=3 * GiB)
    store.write(jobs=[flight])
    store.close()
    again = Store(tmp_path / "sized.db")
    assert (again.job("9").cpus, again.job("9").memory) == (4, 3 * GiB)
    again.close()


def test_a_vwn_adopted_after_lost_records_counts_at_the_size_its_domain_was_made(sized_host):
    host = sized_host

    async def flow():
        answer = await host.bait(_submit(host, cpus=4))
        host.batch.start(host.engine.parts.store.vwn(answer.vwn_id).job_id)
        await host.engine.round()
        host.engine.close()
        for extra in ("", "-wal", "-shm"):
            host.store_path.with_name(host.store_path.name + extra).unlink(missing_ok=True)
        engine = host.new_engine()
        await engine.start(StrayDecision.ADOPT)
        [vwn] = engine.vwns()
        assert (vwn.id, vwn.vcpus) == (answer.vwn_id, 4), "not its type's least (2): the host would be overbooked"
        return await host.bait(_submit(host))

    answer = run(flow())
    assert answer.outcome is BaitOutcome.RETRY and "this host is full" in answer.reason


def test_the_farm_pages_sizing_example_is_what_wnod_does():
    """docs/farm.md's sized type and its table of requests, read from the page: it cannot drift."""
    page = (Path(__file__).parents[2] / "docs" / "farm.md").read_text()
    toml = re.search(r"```toml\n# vm_types, sized[^\n]*\n(.*?)```", page, re.S).group(1)
    [(name, table)] = tomllib.loads(toml)["vm_types"].items()
    vm_type = structure({"name": name, **table}, VmType, f"vm_types.{name}")
    rows = re.findall(r"^\| (\d+) CPUs?, ([^|]*?) \| ([^|]*?) \|$", page, re.M)
    assert len(rows) == 5
    for cpus, memory, vwn in rows:
        asked = 0 if memory in ("", "no memory") else parse_size(memory.replace(" ", ""))
        got = size_for(vm_type, int(cpus), asked)
        if isinstance(got, Oversized):
            assert vwn == f"refused: {got.reason}"
        else:
            assert vwn == f"{got[0]} vCPU{'s' if got[0] > 1 else ''}, {got[1] // GiB} GiB", (cpus, memory)


def test_a_flight_resolved_by_a_wnod_that_kept_no_request_is_resolved_again(sized_host):
    host = sized_host

    async def flow():
        job = _submit(host, cpus=4)
        kill_after(host.engine.parts.store, JobStep.RESOLVED)
        with pytest.raises(Killed):
            await host.bait(job)
        older = Store(host.store_path)  # as a wnod of schema 4 left it: no cpus, no memory
        older.save_job(attrs.evolve(older.job(job), cpus=0, memory=0))
        older.close()
        engine = host.new_engine()
        await engine.start()
        return await host.bait(job)

    answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED
    assert host.engine.parts.store.vwn(answer.vwn_id).vcpus == 4, "sized from the request read again"
