"""Domains of this host that no record explains are never destroyed on that ground alone.

A VWN may run a user's job while its record is gone: the state file deleted or truncated, or
the daemon started with another state directory. The engine adopts such a VWN (with the job
the batch system runs in it, followed to its end), or quarantines it while it cannot, and
refuses to start at all when its records never held a VWN, unless the admin says what to do.
"""

import asyncio

import pytest

from wnod_core.engine import StrayDecision, StraysNeedDecision
from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, DomainState, VwnSpec
from wnod_core.model import VwnState
from wnod_core.model.events import JobStep


def run(coro):
    return asyncio.run(coro)


def lose_the_records(host) -> None:
    """The state file is gone: a new one, empty, in its place."""
    host.store_path.unlink()
    for extra in ("-wal", "-shm"):
        host.store_path.with_name(host.store_path.name + extra).unlink(missing_ok=True)


def job_running_in_its_vwn(host):
    """A job placed, migrated and running in its VWN; returns (job id, VWN id, host name)."""

    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        assert answer.outcome is BaitOutcome.MIGRATED
        host.batch.start(job)
        await host.engine.round()
        return job, answer.vwn_id, answer.hostname

    return run(flow())


def a_stray(host, vwn_id="hv01-s2-abcdef", slot=2):
    """A VWN of this host's in slot `slot` with no record: made by a daemon whose records are lost."""
    blue = host.policy.vm_types["blue"]
    hostname = host.policy.hostname(slot)
    host.hypervisor.create(VwnSpec(vwn_id, blue, host.policy.host, hostname))
    return vwn_id, hostname


def test_with_records_that_never_held_a_vwn_the_engine_refuses_to_start_and_touches_nothing(host):
    job, vwn_id, _ = job_running_in_its_vwn(host)
    host.engine.close()
    lose_the_records(host)
    engine = host.new_engine()
    with pytest.raises(StraysNeedDecision, match="--adopt.*--reap-strays") as refused:
        run(engine.start())
    assert vwn_id in str(refused.value) and str(host.store_path) in str(refused.value)
    assert host.hypervisor.running() == [vwn_id], "the VWN, and the job in it, must survive"
    assert host.batch.job_facts(job).exec_hosts == (host.batch.bound_to(job),)
    assert engine.vwns() == []


def test_adopting_after_lost_records_follows_the_running_job_to_its_end(host):
    job, vwn_id, hostname = job_running_in_its_vwn(host)
    host.engine.close()
    lose_the_records(host)
    engine = host.new_engine()
    found = run(engine.start(StrayDecision.ADOPT))
    assert found.strays_adopted == (vwn_id,) and found.quarantined == ()
    (vwn,) = engine.vwns()
    assert (vwn.id, vwn.state, vwn.job_id, vwn.hostname) == (vwn_id, VwnState.RUNNING, job, hostname)
    assert host.store_path.exists()
    flight = host.engine.parts.store.job(job)
    assert flight.step is JobStep.STARTED and flight.vwn_id == vwn_id

    run(engine.round())
    assert host.hypervisor.running() == [vwn_id], "a running job's VWN is left alone by the rounds"
    host.batch.finish(job)
    run(engine.round())
    assert engine.parts.store.job(job).step is JobStep.ENDED
    assert [v.state for v in engine.vwns()] == [VwnState.IDLE], "then treated as any VWN whose job ended"


def test_a_stray_beside_this_hosts_own_records_is_adopted_without_being_asked(host):
    job, vwn_id, _ = job_running_in_its_vwn(host)
    stray, hostname = a_stray(host)
    found = run(host.new_engine().start())
    assert found.strays == (stray,) and found.strays_adopted == (stray,)
    states = {v.id: v.state for v in host.engine.vwns()}
    assert states[vwn_id] is VwnState.RUNNING
    assert states[stray] is VwnState.CLEANING, "no job in it: finished like a VWN whose job ended"
    run(host.engine.round())
    assert {v.id: v.state for v in host.engine.vwns()}[stray] is VwnState.IDLE
    assert host.hypervisor.domain(stray) is not None


def test_a_stray_the_batch_system_cannot_be_asked_about_is_quarantined_until_it_can(host):
    job_running_in_its_vwn(host)
    stray, _ = a_stray(host)
    host.batch.fail_next("hosts", BatchSystemError("fake: the controller is down"), times=None)
    engine = host.new_engine()
    found = run(engine.start())
    assert found.quarantined == (stray,)
    assert "cannot ask the batch system" in engine.parts.quarantine[stray].why
    # It cannot count what that VWN holds: no new job until it is settled.
    newcomer = host.submit("red")
    answer = run(host.bait(newcomer))
    assert answer.outcome is BaitOutcome.RETRY and "quarantined" in answer.reason
    assert host.hypervisor.domain(stray).state is DomainState.RUNNING

    host.batch.clear_failures()
    run(engine.round())
    assert stray not in engine.parts.quarantine
    assert stray in {v.id for v in engine.vwns()}


def test_a_stray_whose_name_is_no_slot_stays_quarantined_until_the_admin_destroys_it(host):
    job_running_in_its_vwn(host)
    stray, _ = a_stray(host, "hv01-s9-abcdef", slot=9)  # host.max_vwns is 2: no slot 9
    engine = host.new_engine()
    found = run(engine.start())
    assert found.quarantined == (stray,)
    run(engine.round())
    assert stray in engine.parts.quarantine and host.hypervisor.domain(stray) is not None
    gone = run(engine.destroy_vwn(stray))
    assert gone.state is VwnState.DESTROYED and host.hypervisor.domain(stray) is None
    assert stray not in engine.parts.quarantine


def test_reaping_is_only_ever_the_admins_word(host):
    job, vwn_id, _ = job_running_in_its_vwn(host)
    host.engine.close()
    lose_the_records(host)
    found = run(host.new_engine().start(StrayDecision.REAP))
    assert found.reaped == (vwn_id,)
    assert host.hypervisor.running() == []
