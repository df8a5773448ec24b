"""Review of the engine's protocol: races, crash points and contract breaks, each a failing case.

Each test shows a defect found in review. Those still marked ``xfail(strict=True)`` are not
fixed yet: when one is, its test passes, the xfail turns into an error, and the mark goes. The
others guard fixes already made.

A crash (SIGKILL) is staged by raising ``Killed`` — a BaseException the engine does not catch —
from a fake's ``before`` hook or from a listener: the records stay exactly as they were at that
point, and a new engine over the same database plays the restarted daemon.
"""

import asyncio
import threading

import attrs
import pytest

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import HostCapacity, VwnState
from wnod_core.model.events import JobStep


class Killed(BaseException):
    """The daemon is SIGKILLed here: nothing after this point of the flow runs."""


def run(coro):
    return asyncio.run(coro)


def killer(_args):
    raise Killed()


async def restart(host, rounds: int = 3):
    engine = host.new_engine()
    await engine.start()
    await engine.wait_idle()
    for _ in range(rounds):
        await engine.round()
    return engine


async def until(event: threading.Event, what: str) -> None:
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# -- 1. a new VWN is open to every job until its first job ends --------------------------------------


def test_a_new_vwn_accepts_no_job_but_its_own(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        assert answer.outcome is BaitOutcome.MIGRATED
        return answer

    answer = run(flow())
    other = host.batch.submit("bob", queue="default")  # an ordinary pending job, bound nowhere
    assert host.batch.is_closed(answer.hostname)
    with pytest.raises(BatchSystemError):
        host.batch.start(other.job_id)  # the scheduler must find no host for it: the VWN is not its


# -- 2. crashes that leave a migrated job bound to a dead VWN -----------------------------------------


def test_killed_while_destroying_a_dead_vwn_its_job_is_still_requeued_after_restart(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        remove = host.hypervisor.before("destroy", killer)
        with pytest.raises(Killed):
            await host.engine.round()  # recorded DESTROYING, then killed
        remove()
        await restart(host)
        return job, answer

    job, answer = run(flow())
    assert host.engine.parts.store.vwn(answer.vwn_id).state is VwnState.DESTROYED
    flight = host.engine.parts.store.job(job)
    assert flight.is_over, f"job stuck at {flight.step} on a destroyed VWN"
    assert host.batch.bound_to(job) is None


def test_killed_between_requeue_record_and_release_the_job_is_still_released(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        remove = host.batch.before("release", killer)
        with pytest.raises(Killed):
            await host.engine.round()  # VWN destroyed, give-back recorded, release never reached the batch system
        remove()
        await restart(host)
        return job, answer

    job, answer = run(flow())
    assert host.engine.parts.store.job(job).step is JobStep.REQUEUED
    # Still bound to hv01-vwn1: the next VWN made in slot 1 gets that name and would take this job too.
    assert host.batch.bound_to(job) is None


# -- 3. the upkeep round acts on a snapshot taken before its awaits ------------------------------------


def test_a_slow_round_does_not_clean_a_vwn_a_new_job_took_meanwhile(host):
    async def flow():
        first = host.submit("blue")
        v1 = (await host.bait(first)).vwn_id  # VWN 1, READY for `first`: the round will stall on it

        a = host.submit("blue")
        m_in, m_go = threading.Event(), threading.Event()

        def hold_migrate(args):
            if args[0] == a:
                m_in.set()
                m_go.wait(10)

        remove_m = host.batch.before("migrate", hold_migrate)
        bait_a = asyncio.ensure_future(host.bait(a))
        await until(m_in, "job A's migrate")  # VWN X is READY for A now

        s_in, s_go = threading.Event(), threading.Event()

        def hold_state(args):
            if args[0] == v1:
                s_in.set()
                s_go.wait(10)

        remove_s = host.hypervisor.before("state", hold_state)
        round_task = asyncio.ensure_future(host.engine.round())  # its snapshot: [V1 ready(first), X ready(A)]
        await until(s_in, "the round to stall on VWN 1")

        host.batch.fail_next("migrate", BatchSystemError("fake: the scheduler is down"))
        m_go.set()
        answer_a = await bait_a
        remove_m()
        assert answer_a.outcome is BaitOutcome.RETRY
        x = answer_a.vwn_id
        assert host.engine.parts.store.vwn(x).state is VwnState.IDLE

        b = host.submit("blue")
        answer_b = await host.bait(b)
        assert (answer_b.outcome, answer_b.vwn_id) == (BaitOutcome.MIGRATED, x)

        s_go.set()
        await round_task  # reaches its stale "X ready for A (requeued)" and finishes X
        remove_s()
        return b, x

    b, x = run(flow())
    vwn = host.engine.parts.store.vwn(x)
    assert (vwn.state, vwn.job_id) == (VwnState.READY, b)
    assert host.hypervisor.calls_to("reset_scratch") == [(x,)]  # only A's clean-up, none under B


# -- 4. errors the flow should ride out ------------------------------------------------------------


def test_a_passing_batch_error_while_polling_a_boot_does_not_requeue_the_job(host):
    host.batch.fail_next("host_ready", BatchSystemError("fake: sinfo timed out"))
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.MIGRATED, answer.reason


def test_one_vwn_whose_plugin_call_breaks_does_not_starve_the_others(host):
    async def flow():
        one = host.submit("blue")
        v1 = (await host.bait(one)).vwn_id
        two = host.submit("blue")
        v2 = (await host.bait(two)).vwn_id
        host.batch.start(two)
        host.batch.finish(two)

        def broken(args):
            if args[0] == v1:
                raise RuntimeError("libvirt: internal error (not wrapped by the backend)")

        host.hypervisor.before("state", broken)
        for _ in range(3):  # as run_rounds does: log and go on
            try:
                await host.engine.round()
            except Exception:
                pass
        return v2

    v2 = run(flow())
    assert host.engine.parts.store.vwn(v2).state is VwnState.IDLE


# -- 5. capacity ------------------------------------------------------------------------------------


def test_a_reload_that_shrinks_a_type_never_overcommits_the_host(host):
    host.policy = attrs.evolve(host.policy, capacity=HostCapacity(vcpus=4, memory="4GiB", max_vwns=4))
    host.new_engine()

    async def place_two():
        for _ in range(2):
            assert (await host.bait(host.submit("blue"))).outcome is BaitOutcome.MIGRATED

    run(place_two())  # 2 x 2 vCPUs: the host is full
    host.reconfigure(vcpus=1, memory="1GiB")  # SIGHUP: blue and red now take 1 vCPU
    for queue in ("red", "red"):
        run(host.bait(host.submit(queue)))
    running = [host.hypervisor.domain(i).spec.vm_type for i in host.hypervisor.running()]
    assert sum(t.vcpus for t in running) <= 4, [(t.name, t.vcpus) for t in running]


# -- 6. what bait_timeout does -------------------------------------------------------------------------


def test_a_job_that_waited_longer_than_bait_timeout_is_put_back_to_pending(host):
    host.joins = False
    host.reconfigure(engine={"bait_timeout": 0.05}, boot_timeout=0.1)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert "waited too long" in answer.reason
    assert answer.outcome is BaitOutcome.RETRY
    assert host.batch.calls_to("fail") == []
