"""Mixed mode: a host that also runs bare-metal jobs through its batch system's node shares its
CPUs with them through reservations of that node, so that neither side overbooks the other."""

import asyncio

import attrs
import pytest

from wnod_core.engine import lifecycle, mixed
from wnod_core.errors import BatchSystemError, HypervisorError
from wnod_core.interfaces import BaitOutcome, BatchSystem
from wnod_core.model import VwnState

NODE = "hv01"
"""The host's own node in the batch system, for its bare-metal jobs: 4 CPUs (the host's VWNs: 2 each)."""


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def mixed_host(host):
    host.batch.declare_node(NODE, cpus=4)
    host.policy = attrs.evolve(host.policy, bare_metal_node=NODE)
    host.new_engine()
    return host


def bare_metal(host, cpus: int) -> str:
    """A job of `cpus` CPUs started on the host's node, bare metal (the fake refuses CPUs in use)."""
    job = host.batch.submit("dave", groups=("physics",), queue="short", cpus=cpus).job_id
    host.batch.start(job, NODE)
    return job


def test_a_vwn_with_a_job_holds_its_cpus_from_bare_metal_jobs_until_the_job_is_over(mixed_host):
    host = mixed_host

    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        assert answer.outcome is BaitOutcome.MIGRATED
        assert host.batch.reservations(NODE) == [answer.vwn_id]
        assert host.batch.free_cpus_of(NODE) == 2
        with pytest.raises(BatchSystemError, match="2 CPUs free, it asks 4"):
            bare_metal(host, 4)
        host.batch.start(job)
        host.batch.finish(job)
        await host.engine.round()
        assert [v.state for v in host.engine.vwns()] == [VwnState.IDLE]
        assert host.batch.reservations(NODE) == [], "an idle VWN holds no CPU from bare-metal jobs"
        bare_metal(host, 4)

    run(flow())


def test_a_job_whose_vwn_would_need_cpus_bare_metal_jobs_hold_goes_back_with_no_boot(mixed_host):
    host = mixed_host
    bare_metal(host, 3)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY
    assert "could not reserve the 2 CPUs VWN" in answer.reason and f"on {NODE}, which also runs bare-metal" in answer.reason
    assert host.hypervisor.calls_to("create") == [], "no domain made where its CPUs are taken"
    assert [v for v in host.engine.vwns() if v.state is not VwnState.DESTROYED] == []
    assert host.engine.parts.breaker.report() == {"host": "closed", "types": {}}, "not a fault of the host"
    assert host.batch.reservations(NODE) == []


def test_an_idle_vwn_takes_its_cpus_back_for_its_next_job_or_stays_idle_for_a_later_one(mixed_host):
    host = mixed_host
    vwn_id = run(host.through())
    other = bare_metal(host, 3)
    for _ in range(3):  # more refusals than its type's max_reuses would allow reuses
        refused = run(host.bait(host.submit("blue")))
        assert refused.outcome is BaitOutcome.RETRY and "could not reserve the 2 CPUs" in refused.reason
    idle = host.engine.parts.store.vwn(vwn_id)
    assert (idle.state, idle.reuse_count) == (VwnState.IDLE, 0), "kept for a later job, no reuse counted"
    assert host.hypervisor.calls_to("reset_scratch") == [(vwn_id,)], "reset after its one job only"
    host.batch.finish(other)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert (answer.outcome, answer.vwn_id) == (BaitOutcome.MIGRATED, vwn_id)
    assert host.batch.reservations(NODE) == [vwn_id]
    assert len(host.hypervisor.calls_to("create")) == 1


def test_a_destroyed_vwn_gives_its_cpus_back(mixed_host):
    host = mixed_host
    answer = run(host.bait(host.submit("blue")))
    vwn = host.engine.parts.store.vwn(answer.vwn_id)
    run(lifecycle.destroy(host.engine.parts, vwn, "the admin's"))
    assert host.batch.reservations(NODE) == [] and host.batch.free_cpus_of(NODE) == 4


def test_a_round_ends_reservations_no_vwn_needs_and_makes_a_lost_one_again(mixed_host):
    host = mixed_host
    job = host.submit("blue")
    answer = run(host.bait(job))
    host.batch.start(job)
    run(host.engine.round())
    assert host.engine.parts.store.vwn(answer.vwn_id).state is VwnState.RUNNING
    host.batch.reserve_cpus(NODE, "hv01-s9-gone00", 1)  # a crash came between a VWN's end and its reservation's
    host.batch.end_reservation(NODE, answer.vwn_id)  # an admin deleted it
    run(host.engine.round())
    assert host.batch.reservations(NODE) == [answer.vwn_id]


def test_a_batch_system_that_cannot_reserve_says_so_and_starts_no_vwn(mixed_host, monkeypatch):
    host = mixed_host
    monkeypatch.setattr(host.batch, "reserve_cpus", lambda node, name, cpus: False)
    answer = run(host.bait(host.submit("blue")))
    assert answer.outcome is BaitOutcome.RETRY and mixed.UNSUPPORTED in answer.reason
    assert host.hypervisor.calls_to("create") == []


def test_a_batch_system_that_keeps_the_default_is_refused_before_the_daemon_starts(host):
    class NoReservations(type(host.batch)):
        reserve_cpus = BatchSystem.reserve_cpus

    assert mixed.cannot_reserve(host.batch) == ""
    why = mixed.cannot_reserve(NoReservations.__new__(NoReservations))
    assert "NoReservations batch system cannot reserve a node's CPUs" in why and "unset it" in why


def test_a_vwn_being_destroyed_keeps_its_cpus_until_the_hypervisor_confirms(mixed_host):
    host = mixed_host
    answer = run(host.bait(host.submit("blue")))
    host.hypervisor.fail_for("destroy", HypervisorError("fake: the domain does not die"), seconds=60)
    vwn = host.engine.parts.store.vwn(answer.vwn_id)
    run(lifecycle.destroy(host.engine.parts, vwn, "the admin's"))
    assert host.engine.parts.store.vwn(answer.vwn_id).state is VwnState.DESTROYING
    run(host.engine.round())  # the round's destroy fails again: the domain may still run
    assert host.batch.reservations(NODE) == [answer.vwn_id]


def test_an_end_of_a_reservation_that_lands_late_cannot_unreserve_the_next_job(mixed_host):
    """The end of a VWN's reservation times out and lands later: until it has, the VWN's CPUs
    cannot be taken for its next job (the adapter would find the doomed reservation and say
    "kept"), which goes back to pending; once it has, the next job reserves them afresh."""
    host = mixed_host
    host.policy = attrs.evolve(host.policy, engine=attrs.evolve(host.policy.engine, plugin_timeout=0.2))
    host.new_engine()

    async def flow():  # one event loop, as the daemon's: the late call's end is seen on it
        job = host.submit("blue")
        vwn_id = (await host.bait(job)).vwn_id
        host.batch.slow_next("end_reservation", 1.0)
        host.batch.start(job)
        host.batch.finish(job)
        await host.engine.round()  # its job ended: the end of its reservation times out, lands in 1 s
        refused = await host.bait(host.submit("blue"))
        assert refused.outcome is BaitOutcome.RETRY and "has not ended yet" in refused.reason
        assert host.engine.parts.store.vwn(vwn_id).state is VwnState.IDLE
        await asyncio.sleep(1.2)
        answer = await host.bait(host.submit("blue"))
        assert (answer.outcome, answer.vwn_id) == (BaitOutcome.MIGRATED, vwn_id)
        assert host.batch.reservations(NODE) == [vwn_id], "reserved afresh, after the late end landed"

    run(flow())
