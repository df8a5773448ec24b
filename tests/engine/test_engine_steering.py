"""A host's bait weight: lighter where a job is likely to reuse a VWN or get one at once, set by the
rounds whenever the host's VWNs change it, and only then."""

import asyncio

import attrs
import pytest

from wnod_core.engine import steering
from wnod_core.engine.steering import FULL, REFRESH, host_weight, weight
from wnod_core.errors import BatchSystemError
from wnod_core.model import HostCapacity, Vwn, VwnState


def run(coro):
    return asyncio.run(coro)


def test_hosts_weigh_by_what_a_job_finds_there():
    both, room, evict = weight(idle=1, room=1), weight(idle=0, room=1), weight(idle=1, room=0)
    assert 1 <= both < room < evict < FULL == weight(0, 0)
    assert weight(5, 1) < weight(1, 1), "more idle VWNs: more chances that one is the job's"
    assert weight(0, 5) < weight(0, 1), "more room: the host that boots least comes first"
    assert weight(500, 500) >= 1 and weight(1000, 0) < FULL


def _vwn(n: int, state: VwnState, vcpus: int = 2) -> Vwn:
    return Vwn(id=f"v{n}", host="hv01", vm_type="blue", slot=n, state=state, created_at=0.0, updated_at=0.0, vcpus=vcpus,
               memory=2 * 1024**3)


def test_the_weight_of_records_counts_idle_vwns_and_the_room_beside_those_alive(host):
    types, capacity = host.policy.vm_types, HostCapacity(vcpus=8, memory="8GiB", max_vwns=3)
    assert host_weight([], types, capacity) == weight(0, 3)
    assert host_weight([_vwn(1, VwnState.IDLE), _vwn(2, VwnState.DESTROYED)], types, capacity) == weight(1, 2)
    # vCPUs bound the room before the VWN count does: 6 of 8 held leave one 2-vCPU VWN.
    assert host_weight([_vwn(1, VwnState.RUNNING, vcpus=6)], types, capacity) == weight(0, 1)
    full = [_vwn(1, VwnState.RUNNING), _vwn(2, VwnState.RUNNING), _vwn(3, VwnState.BOOTING)]
    assert host_weight(full, types, capacity) == FULL



def test_idle_vwns_of_an_old_image_version_make_a_host_no_lighter_but_still_make_room(host):
    types, capacity = host.policy.vm_types, HostCapacity(vcpus=8, memory="8GiB", max_vwns=2)
    old = attrs.evolve(_vwn(1, VwnState.IDLE), image_version="1")  # blue is now at version ""
    assert host_weight([old], types, capacity) == weight(0, 1), "no job reuses it: room only"
    busy = _vwn(2, VwnState.RUNNING)
    assert host_weight([old, busy], types, capacity) == weight(1, 0), "full: a job there evicts it"


@pytest.fixture
def steered(host):
    host.policy = attrs.evolve(host.policy, baits=("bait01",))
    host.new_engine()
    return host


def test_the_rounds_set_the_bait_weight_as_vwns_come_go_and_idle(steered):
    host = steered

    async def flow():
        await host.engine.round()
        assert host.batch.weight_of("bait01") == weight(0, 2), "an empty host: room for two"
        job = host.submit("blue")
        await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        assert host.batch.weight_of("bait01") == weight(0, 1)
        host.batch.finish(job)
        await host.engine.round()
        await host.engine.round()
        assert [v.state for v in host.engine.vwns()] == [VwnState.IDLE]
        assert host.batch.weight_of("bait01") == weight(1, 1), "an idle VWN and room: the lightest"

    run(flow())


def test_an_unchanged_weight_is_set_again_only_after_a_while(steered):
    host = steered

    async def flow():
        for _ in range(3):
            await host.engine.round()
        assert len(host.batch.calls_to("steer")) == 1
        host.clock.offset += REFRESH + 1  # slurmctld restarted meanwhile would have forgotten it
        await host.engine.round()
        assert len(host.batch.calls_to("steer")) == 2

    run(flow())


def test_a_refused_weight_is_tried_again_next_round_and_a_drained_host_is_not_steered(steered):
    host = steered
    host.batch.fail_next("steer", BatchSystemError("scontrol: Unable to contact slurm controller"))

    async def flow():
        await host.engine.round()  # refused: logged, the round goes on
        assert host.batch.weight_of("bait01") == 1
        await host.engine.round()
        assert host.batch.weight_of("bait01") == weight(0, 2)
        await host.engine.drain()
        job = host.submit("blue")
        await host.bait(job)  # put back: drained
        host.clock.offset += REFRESH + 1
        calls = len(host.batch.calls_to("steer"))
        await host.engine.round()
        assert len(host.batch.calls_to("steer")) == calls, "a closed bait takes no job: nothing to steer"

    run(flow())


def test_a_batch_system_with_no_weights_is_asked_once_and_one_turned_off_never(steered, monkeypatch):
    host = steered
    asked = []
    monkeypatch.setattr(host.batch, "steer", lambda bait, w: asked.append((bait, w)) or False)
    host.new_engine()

    async def rounds():
        for _ in range(3):
            host.clock.offset += REFRESH + 1
            await host.engine.round()

    run(rounds())
    assert asked == [("bait01", weight(0, 2))]
    asked.clear()
    host.reconfigure(engine={"steer_baits": False})
    run(rounds())
    assert asked == []


def test_the_engine_and_a_simulation_share_one_rule():
    """wnod-simulate's "weights" dispatch orders hosts by this very function (not a copy of it)."""
    from wnod_simulate import farm

    assert farm.weight is steering.weight
