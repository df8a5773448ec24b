"""The flow of one host, job by job, against the in-memory batch system and hypervisor."""

import asyncio

import attrs
import pytest

from wnod_core.config.schema import BootFailure
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import JobState, VwnState
from wnod_core.model.events import JobStep


def run(coro):
    return asyncio.run(coro)


def steps_of(host, job_id):
    return [e.step for e in host.heard.steps if e.job_id == job_id]


def test_a_job_gets_a_new_vwn_runs_in_it_and_leaves_it_idle(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        assert answer.outcome is BaitOutcome.MIGRATED
        [vwn] = host.engine.vwns()
        assert (vwn.state, vwn.job_id, vwn.vm_type) == (VwnState.READY, job, "blue")
        assert host.batch.bound_to(job) == vwn.hostname == "hv01-vwn1"
        assert host.batch.start(job) == vwn.hostname
        await host.engine.round()
        assert host.engine.vwns()[0].state is VwnState.RUNNING
        host.batch.finish(job)
        await host.engine.round()
        [vwn] = host.engine.vwns()
        assert (vwn.state, vwn.job_id) == (VwnState.IDLE, None)
        assert host.batch.is_closed(vwn.hostname)
        assert host.hypervisor.calls_to("reset_scratch") == [(vwn.id,)]
        return job

    job = run(flow())
    assert steps_of(host, job) == [
        JobStep.BAIT_ENTERED, JobStep.RESOLVED, JobStep.VWN_ASSIGNED, JobStep.VWN_READY, JobStep.MIGRATED,
        JobStep.STARTED, JobStep.ENDED,
    ]


def test_a_later_job_of_the_same_type_reuses_the_idle_vwn(host):
    async def flow():
        first = host.submit("blue")
        await host.bait(first)
        host.batch.start(first)
        host.batch.finish(first)
        await host.engine.round()
        second = host.submit("blue")
        answer = await host.bait(second)
        return first, second, answer

    first, second, answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED
    assert len(host.hypervisor.calls_to("create")) == 1
    [vwn] = host.engine.vwns()
    assert (vwn.job_id, vwn.reuse_count) == (second, 1)
    assigned = [e for e in host.heard.steps if e.job_id == second and e.step is JobStep.VWN_ASSIGNED]
    assert assigned[0].reused is True


def test_a_refused_job_is_failed_with_the_reason_and_gets_no_vwn(host):
    job = host.submit("nope", user="mallory")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.REFUSED
    assert "queue nope is closed to user mallory" in answer.reason
    assert host.engine.vwns() == []
    assert host.batch.calls_to("fail") == [(job, answer.reason)]


def test_a_job_the_batch_system_cannot_move_is_refused_before_any_vwn_is_booted_for_it(host):
    job = host.batch.submit("alice", groups=("physics",), queue="blue", movable=False).job_id
    host.batch.dispatch_to_bait(job, "bait01")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.REFUSED
    assert "cannot be moved to a VWN: the job was submitted not to be rerun" in answer.reason
    assert host.hypervisor.calls_to("create") == [] and host.batch.calls_to("migrate") == []
    assert host.batch.calls_to("fail") == [(job, answer.reason)], "failed with the reason its owner sees"


def test_a_job_no_resolver_maps_is_refused_naming_its_owner(host):
    job = host.submit("green", user="bob")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.REFUSED
    assert "user bob" in answer.reason and "queue green" in answer.reason


def test_a_job_dispatched_twice_at_once_gets_one_vwn(host):
    async def flow():
        job = host.submit("blue")
        return await asyncio.gather(host.bait(job), host.bait(job))

    answers = run(flow())
    assert [a.outcome for a in answers] == [BaitOutcome.MIGRATED] * 2
    assert len(host.hypervisor.calls_to("create")) == 1


def test_two_baits_racing_for_the_last_slot_one_wins_the_other_is_requeued(host):
    host.reconfigure(max_vwns=1)

    async def flow():
        a, b = host.submit("blue"), host.submit("red")
        return a, b, await asyncio.gather(host.bait(a), host.bait(b))

    a, b, answers = run(flow())
    assert sorted(x.outcome for x in answers) == sorted([BaitOutcome.MIGRATED, BaitOutcome.RETRY])
    loser = b if answers[0].outcome is BaitOutcome.MIGRATED else a
    assert "full" in dict(zip((a, b), answers))[loser].reason
    assert [c[0] for c in host.batch.calls_to("release")] == [loser]
    assert len(host.engine.vwns()) == 1


def test_a_job_that_finds_the_host_full_as_another_ends_waits_and_takes_its_vwn_instead_of_going_back(host):
    host.reconfigure(max_vwns=1, engine={"full_wait": 30})

    async def flow():
        first = host.submit("blue", user="alice")
        assert (await host.bait(first)).outcome is BaitOutcome.MIGRATED
        host.batch.start(first)
        await host.engine.round()
        # The batch system ends it and sends the next job to the bait before wnod has seen the end.
        host.batch.finish(first)
        second = host.submit("blue", user="alice")
        waiting = asyncio.ensure_future(host.bait(second))
        await asyncio.sleep(0.05)
        assert not waiting.done(), "it waits for room rather than go back to pending"
        await host.engine.round()  # wnod sees the end: the VWN is cleaned, idle, and taken
        return first, second, await waiting

    first, second, answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED, answer.reason
    assert host.batch.calls_to("release") == []
    [vwn] = host.engine.vwns()
    assert (vwn.job_id, vwn.reuse_count) == (second, 1)


def test_a_job_that_finds_the_host_full_for_longer_than_full_wait_goes_back_to_pending(host):
    host.reconfigure(max_vwns=1, engine={"full_wait": 30})

    async def flow():
        first = host.submit("blue")
        await host.bait(first)
        host.batch.start(first)
        second = host.submit("red")
        waiting = asyncio.ensure_future(host.bait(second))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        host.clock.offset += 31
        return second, await waiting

    second, answer = run(flow())
    assert answer.outcome is BaitOutcome.RETRY and "full" in answer.reason
    assert [c[0] for c in host.batch.calls_to("release")] == [second]


def test_a_job_whose_type_can_never_fit_the_host_goes_back_at_once_whatever_full_wait(host):
    host.reconfigure(engine={"full_wait": 3600}, vcpus=64)
    answer = run(host.bait(host.submit("blue")))
    assert answer.outcome is BaitOutcome.RETRY and "more than this host gives to VWNs" in answer.reason


def test_a_job_cancelled_while_its_vwn_boots_leaves_the_vwn_idle_for_the_next(host):
    host.joins = False

    async def flow():
        job = host.submit("blue")
        task = asyncio.ensure_future(host.bait(job))
        while not host.hypervisor.calls_to("create"):
            await asyncio.sleep(0.01)
        host.batch.cancel(job)
        await asyncio.sleep(0.05)
        [vwn] = host.engine.vwns()
        host.batch.register_host(vwn.hostname)  # its batch daemon joins late
        return job, await task

    job, answer = run(flow())
    assert answer.outcome is BaitOutcome.REFUSED
    assert "cancelled" in answer.reason
    [vwn] = host.engine.vwns()
    assert (vwn.state, vwn.job_id) == (VwnState.IDLE, None)
    assert host.batch.bound_to(job) is None


def test_a_vwn_that_never_joins_is_destroyed_retried_then_the_job_goes_back_to_pending_never_failed(host):
    """A boot fails for a reason of the host or its image, not of the job: the job is not cancelled."""
    host.joins = False
    host.reconfigure(boot_timeout=0.1)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY
    assert "no VWN after 2 tries" in answer.reason and "did not join" in answer.reason
    assert len(host.hypervisor.calls_to("create")) == 2  # boot_retries = 1
    assert host.hypervisor.running() == []
    assert all(v.state is VwnState.DESTROYED for v in host.engine.parts.store.vwns(alive=False))
    assert host.batch.calls_to("fail") == []
    assert host.batch.calls_to("release")[-1][0] == job and host.batch.bound_to(job) is None


def test_site_policy_may_release_a_job_whose_vwn_never_joins(host):
    host.joins = False
    host.reconfigure(engine={"on_boot_failure": BootFailure.RELEASE, "boot_retries": 0}, boot_timeout=0.05)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RELEASED
    assert host.batch.calls_to("release")[0][0] == job
    assert host.hypervisor.running() == []


def test_site_policy_may_hold_for_its_admin_a_job_whose_vwn_never_joins(host):
    """on_boot_failure = "hold": the job neither bounces from host to host nor runs outside a
    VWN; it waits, held with the reason, until the admin looks (and releases it)."""
    host.joins = False
    host.reconfigure(engine={"on_boot_failure": BootFailure.HOLD, "boot_retries": 0}, boot_timeout=0.05)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY, "the bait must not run it"
    facts = host.batch.job(job)
    assert facts.state is JobState.HELD and "did not join" in facts.reason and "held for" in facts.reason, facts
    assert host.engine.parts.store.job(job).step is JobStep.HELD
    assert host.batch.calls_to("fail") == [] and host.hypervisor.running() == []
    host.batch.release(job, "the admin looked")  # released by the admin: an ordinary pending job again
    assert host.batch.job(job).state is JobState.PENDING


def test_a_vwn_dying_under_its_job_is_destroyed_and_the_job_requeued(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        await host.engine.round()
        return job, answer

    job, answer = run(flow())
    assert host.engine.parts.store.vwn(answer.vwn_id).state is VwnState.DESTROYED
    assert host.hypervisor.domain(answer.vwn_id) is None
    assert [c[0] for c in host.batch.calls_to("release")] == [job]
    assert host.engine.parts.store.job(job).step is JobStep.REQUEUED


def test_a_job_that_ends_before_it_was_seen_running_still_frees_its_vwn(host):
    async def flow():
        job = host.submit("blue")
        await host.bait(job)
        host.batch.start(job)
        host.batch.finish(job)
        host.batch.purge(job)  # the end notice came first; the batch system forgot it at once
        host.engine.notice(job)
        await host.engine.round()
        return job

    job = run(flow())
    [vwn] = host.engine.vwns()
    assert vwn.state is VwnState.IDLE
    assert host.engine.parts.store.job(job).step is JobStep.ENDED


def test_a_job_run_elsewhere_by_the_batch_system_frees_its_vwn(host):
    async def flow():
        job = host.submit("blue")
        await host.bait(job)
        facts = host.batch.job(job)
        # The batch system let it run on an ordinary worker after all.
        host.batch.add_job(attrs.evolve(facts, state=JobState.RUNNING, exec_hosts=("wn-real-07",)))
        await host.engine.round()
        return job

    job = run(flow())
    assert host.engine.vwns()[0].state is VwnState.IDLE
    flight = host.engine.parts.store.job(job)
    assert flight.step is JobStep.RELEASED and "wn-real-07" in flight.detail


def test_an_idle_vwn_of_another_type_is_evicted_to_make_room(host):
    host.reconfigure(max_vwns=1)

    async def flow():
        blue = host.submit("blue")
        await host.bait(blue)
        host.batch.start(blue)
        host.batch.finish(blue)
        await host.engine.round()
        red = host.submit("red")
        return await host.bait(red)

    answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED
    alive = host.engine.vwns()
    assert [(v.vm_type, v.state) for v in alive] == [("red", VwnState.READY)]
    assert len(host.hypervisor.running()) == 1



def test_a_job_arriving_while_the_only_room_is_being_cleaned_waits_for_it_instead_of_bouncing(host):
    # A farm's second wave comes as the first ends: a VWN whose job just ended is cleaned (closed,
    # its scratch disk reset) for seconds. Taken for "full", the job would be put back to pending
    # and sit minutes before the batch system dispatched it again.
    host.reconfigure(max_vwns=1)

    async def flow():
        blue = host.submit("blue")
        await host.bait(blue)
        host.batch.start(blue)
        await host.engine.round()
        host.batch.finish(blue)
        host.hypervisor.slow_next("reset_scratch", 0.3)
        cleaning = asyncio.create_task(host.engine.round())
        while not host.hypervisor.slowed_calls:
            await asyncio.sleep(0.01)
        assert [v.state for v in host.engine.vwns()] == [VwnState.CLEANING]
        red = host.submit("red")
        answer = await host.bait(red)
        await cleaning
        return answer

    answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED, answer
    assert [(v.vm_type, v.state) for v in host.engine.vwns()] == [("red", VwnState.READY)]
    assert len(host.hypervisor.running()) == 1


def test_a_job_does_not_wait_for_a_vwn_that_stays_busy_with_its_own_job(host):
    host.reconfigure(max_vwns=1)

    async def flow():
        blue = host.submit("blue")
        await host.bait(blue)
        host.batch.start(blue)
        return await host.bait(host.submit("red"))

    answer = run(flow())
    assert answer.outcome is BaitOutcome.RETRY
    assert "this host is full" in answer.reason

def test_idle_vwns_are_destroyed_after_their_ttl(host):
    async def flow():
        job = host.submit("blue")
        await host.bait(job)
        host.batch.start(job)
        host.batch.finish(job)
        await host.engine.round()
        assert host.engine.vwns()[0].state is VwnState.IDLE
        host.clock.offset += 31 * 60
        await host.engine.round()

    run(flow())
    assert host.engine.vwns() == []
    assert host.hypervisor.running() == []


def test_a_vwn_that_took_its_last_job_is_destroyed(host):
    host.reconfigure(reuse={"max_reuses": 0})

    async def flow():
        job = host.submit("blue")
        await host.bait(job)
        host.batch.start(job)
        host.batch.finish(job)
        await host.engine.round()

    run(flow())
    assert host.engine.vwns() == []
    assert host.hypervisor.calls_to("reset_scratch") == []


def test_a_drained_host_closes_its_baits_requeues_new_jobs_and_reopens_on_resume(host):
    host.policy = attrs.evolve(host.policy, baits=("bait01",))
    host.new_engine()
    run(host.engine.drain())
    assert host.batch.is_closed("bait01"), "the batch system sends jobs elsewhere rather than bounce them here"
    job = host.submit("blue")
    answer = run(host.bait(job))  # dispatched before the bait closed: put back all the same
    assert answer.outcome is BaitOutcome.RETRY and "drained" in answer.reason
    run(host.engine.resume())
    assert not host.batch.is_closed("bait01")
    host.batch.bait_exited(job, 30)
    host.batch.dispatch_to_bait(job, "bait01")
    assert run(host.bait(job)).outcome is BaitOutcome.MIGRATED


def test_a_resume_leaves_closed_the_baits_of_a_host_whose_boots_keep_failing_and_a_boot_those_of_a_drained_one(host):
    from wnod_core.errors import HypervisorError

    host.reconfigure(engine={"boot_retries": 0, "breaker_failures": 1, "breaker_backoff": 60})
    host.policy = attrs.evolve(host.policy, baits=("bait01",))
    host.new_engine()
    host.batch.register_host("bait01")
    host.hypervisor.fail_next("create", HypervisorError("fake: the image is missing"))
    breaker = host.engine.parts.breaker

    async def flow():
        await host.bait(host.submit("blue"))  # the breaker opens: the bait closes
        await host.engine.drain()
        await host.engine.resume()
        assert host.batch.is_closed("bait01"), "resumed, but its boots still fail"
        await host.engine.drain()
        await breaker.booted("blue")  # a boot under way before the drain joins: the trouble is over
        assert host.batch.is_closed("bait01"), "boots work, but the admin drained the host"
        await host.engine.resume()
        assert not host.batch.is_closed("bait01")

    run(flow())


def test_the_admin_destroying_a_busy_vwn_requeues_its_job(host):
    from wnod_core.errors import VwnNotFound

    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        await host.engine.destroy_vwn(answer.vwn_id)
        with pytest.raises(VwnNotFound, match="no VWN"):
            await host.engine.destroy_vwn(answer.vwn_id)
        return job

    job = run(flow())
    assert host.engine.vwns() == [] and host.hypervisor.running() == []
    assert host.engine.parts.store.job(job).step is JobStep.REQUEUED
    assert [c[0] for c in host.batch.calls_to("release")] == [job]


def test_a_job_still_shown_on_its_bait_after_the_migration_is_not_taken_as_run_elsewhere(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        # Some batch systems show the job on the bait until its hook has returned.
        facts = host.batch.job(job)
        host.batch.add_job(attrs.evolve(facts, state=JobState.RUNNING, exec_hosts=("bait01",)), bound_to=answer.hostname)
        await host.engine.round()
        return job

    job = run(flow())
    assert host.engine.vwns()[0].state is VwnState.READY
    assert host.engine.parts.store.job(job).step is JobStep.MIGRATED


def test_a_daemon_killed_right_after_reusing_an_idle_vwn_does_not_give_the_job_a_second_one(host):
    # Found by tests/engine/test_engine_stateful.py: killed between taking the idle VWN for the
    # job (READY, its job) and recording VWN_ASSIGNED, the job resumed at RESOLVED and got a new
    # VWN while the first stayed READY for it. Both are one transaction now: killed right after it.
    class Killed(BaseException):
        pass

    async def flow():
        first = host.submit("blue")
        await host.bait(first)
        host.batch.start(first)
        host.batch.finish(first)
        await host.engine.round()
        [idle] = host.engine.vwns()
        assert idle.state is VwnState.IDLE
        store = host.engine.parts.store
        write = store.write

        def dying_write(**records):
            write(**records)
            if any(after.state is VwnState.READY for _before, after in records.get("moves", ())):
                raise Killed()

        store.write = dying_write
        second = host.submit("blue")
        with pytest.raises(Killed):
            await host.bait(second)
        flight = store.job(second)
        assert (flight.step, flight.vwn_id) == (JobStep.VWN_ASSIGNED, idle.id), "the VWN and the job's step, together"
        engine = host.new_engine()
        await engine.start()
        answer = await host.bait(second)
        await engine.wait_idle()
        return idle, second, answer

    idle, second, answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED
    [vwn] = host.engine.vwns()
    assert (vwn.id, vwn.state, vwn.job_id) == (idle.id, VwnState.READY, second)
    assert len(host.hypervisor.calls_to("create")) == 1


# -- giving a job back ---------------------------------------------------------------------------


def test_a_give_back_the_batch_system_refused_is_asked_again_by_the_next_round(host):
    from wnod_core.errors import BatchSystemError

    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        host.batch.fail_next("release", BatchSystemError("fake: scontrol timed out"), times=2)
        await host.engine.round()  # VWN destroyed; release refused (and again at the round's end)
        assert host.engine.parts.store.job(job).step is JobStep.GIVING_BACK
        await host.engine.round()
        return job

    job = run(flow())
    flight = host.engine.parts.store.job(job)
    assert (flight.step, flight.giving_back_as) == (JobStep.REQUEUED, None)
    assert host.batch.bound_to(job) is None
    assert steps_of(host, job).count(JobStep.REQUEUED) == 1


def test_a_plugin_breaking_its_contract_in_a_give_back_still_answers_the_bait(host):
    def broken(_args):
        raise RuntimeError("not a BatchSystemError")

    host.batch.fail_next("migrate", RuntimeError("fake: bug in the adapter"))
    host.batch.before("release", broken)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY
    assert host.engine.parts.store.job(job).step is JobStep.GIVING_BACK  # asked again by the rounds


def test_an_idle_vwn_made_before_its_type_was_resized_is_not_reused_but_destroyed(host):
    async def first():
        job = host.submit("blue")
        vwn_id = (await host.bait(job)).vwn_id
        host.batch.start(job)
        host.batch.finish(job)
        await host.engine.round()
        return vwn_id

    old = run(first())
    assert host.engine.parts.store.vwn(old).state is VwnState.IDLE
    host.reconfigure(vcpus=1, memory="1GiB")
    answer = run(host.bait(host.submit("blue")))
    assert answer.outcome is BaitOutcome.MIGRATED and answer.vwn_id != old
    assert host.engine.parts.store.vwn(answer.vwn_id).vcpus == 1
    run(host.engine.round())
    assert host.engine.parts.store.vwn(old).state is VwnState.DESTROYED


def test_a_migrated_job_that_never_starts_is_requeued_after_bait_timeout_and_frees_its_vwn(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        await host.engine.round()
        assert host.engine.parts.store.job(job).step is JobStep.MIGRATED
        host.clock.offset += host.policy.engine.bait_timeout + 1
        await host.engine.round()
        return job, answer.vwn_id

    job, vwn_id = run(flow())
    flight = host.engine.parts.store.job(job)
    assert flight.step is JobStep.REQUEUED and "not started" in flight.detail
    assert host.batch.bound_to(job) is None
    vwn = host.engine.parts.store.vwn(vwn_id)
    assert (vwn.state, vwn.job_id) == (VwnState.IDLE, None)


# -- plugin calls ---------------------------------------------------------------------------------


def test_a_plugin_call_that_hangs_fails_after_plugin_timeout_as_its_plugins_error(host):
    import threading

    host.reconfigure(engine={"plugin_timeout": 0.2})
    go = threading.Event()

    def hang(_args):
        go.wait(5)

    remove = host.batch.before("migrate", hang)
    try:
        job = host.submit("blue")
        answer = run(host.bait(job))
    finally:
        go.set()
        remove()
    assert answer.outcome is BaitOutcome.RETRY
    assert "could not move the job" in answer.reason and "plugin_timeout" in answer.reason
    [vwn] = host.engine.vwns()
    assert (vwn.state, vwn.job_id) == (VwnState.IDLE, None)


def test_a_plugin_whose_calls_hang_is_not_given_every_thread(host, monkeypatch):
    # Reviewer's find: a resolver hanging on every job took one thread per job for good, until
    # none was left for the batch system's and the hypervisor's calls.
    import threading

    from wnod_core.engine import calls as calls_module
    from wnod_core.errors import PluginError

    monkeypatch.setattr(calls_module, "HUNG_PER_PLUGIN", 3)
    host.reconfigure(engine={"plugin_timeout": 0.05})
    calls = host.engine.parts.calls
    gate = threading.Event()
    started = []

    class Directory:  # a resolver's lookup that never answers
        def lookup(self, user):
            started.append(user)
            gate.wait(10)
            return user

    directory = Directory()

    async def flow():
        for user in ("a", "b", "c"):
            with pytest.raises(PluginError, match="took longer than engine.plugin_timeout"):
                await calls(directory.lookup, user)
        with pytest.raises(PluginError, match="not called: 3 calls of its plugin outlived engine.plugin_timeout"):
            await calls(directory.lookup, "d")
        other = await calls(host.batch.hosts)  # every other plugin is served as before
        gate.set()
        while calls._hung:
            await asyncio.sleep(0.01)
        return other, await calls(directory.lookup, "e")

    other, again = run(flow())
    assert started == ["a", "b", "c", "e"], "the fourth call took no thread"
    assert other == [] and again == "e"


def test_plugin_calls_run_on_the_engines_own_threads_until_it_closes(host):
    import threading

    names = []
    host.batch.before("job_facts", lambda _args: names.append(threading.current_thread().name))
    run(host.bait(host.submit("blue")))
    assert names and all(n.startswith("wnod-plugin") for n in names)
    host.engine.close(wait=True)
    with pytest.raises(RuntimeError):
        host.engine.parts.calls.executor.submit(print)


def test_a_boot_outlasting_bait_timeout_requeues_the_job_without_waiting_for_boot_timeout(host):
    host.joins = False
    host.reconfigure(engine={"bait_timeout": 0.1}, boot_timeout="30s")
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is BaitOutcome.RETRY and "waited too long" in answer.reason
    assert host.engine.vwns() == [] and host.batch.calls_to("fail") == []


# -- one guard per VWN ---------------------------------------------------------------------------


def test_a_guard_is_held_until_its_holder_lets_go_and_may_be_taken_again_by_it(host):
    guards = host.engine.parts.guards

    async def flow():
        async with guards.acting_on("v1"):
            async with guards.acting_on("v1"):  # the same task again: a destroy inside a finish, say
                assert guards.held("v1")
            assert guards.held("v1"), "let go by the inner holder only"

            async def other() -> bool:
                async with guards.if_free("v1") as free:
                    return free

            assert await asyncio.create_task(other()) is False, "another task passes it by"
        assert not guards.held("v1")

    run(flow())


def test_the_admin_cannot_destroy_a_vwn_the_engine_is_acting_on(host, monkeypatch):
    from wnod_core.engine import engine as engine_module
    from wnod_core.errors import WnodError

    monkeypatch.setattr(engine_module, "ADMIN_WAITS", 0.2)

    async def flow():
        job = host.submit("blue")
        vwn_id = (await host.bait(job)).vwn_id
        held, let_go = asyncio.Event(), asyncio.Event()

        async def acting() -> None:
            async with host.engine.parts.guards.acting_on(vwn_id):
                held.set()
                await let_go.wait()

        task = asyncio.create_task(acting())
        await held.wait()
        with pytest.raises(WnodError, match="being acted on; try again"):
            await host.engine.destroy_vwn(vwn_id)
        let_go.set()
        await task
        await host.engine.destroy_vwn(vwn_id)
        return job, vwn_id

    job, vwn_id = run(flow())
    assert host.engine.parts.store.vwn(vwn_id).state is VwnState.DESTROYED
    assert host.engine.parts.store.job(job).step is JobStep.REQUEUED


def test_the_admins_destroy_waits_out_a_round_that_looks_at_the_vwn(host):
    """CI once met a round looking at the VWN just when `wnod vm destroy` came: refused then."""

    async def flow():
        job = host.submit("blue")
        vwn_id = (await host.bait(job)).vwn_id

        async def a_round_looks() -> None:
            async with host.engine.parts.guards.acting_on(vwn_id):
                await asyncio.sleep(0.3)

        task = asyncio.create_task(a_round_looks())
        await asyncio.sleep(0.01)
        assert host.engine.parts.guards.held(vwn_id)
        destroyed = await host.engine.destroy_vwn(vwn_id)
        await task
        return destroyed

    assert run(flow()).state is VwnState.DESTROYED


def test_the_slot_of_a_dead_vwn_is_not_reused_while_its_job_may_still_be_bound_to_its_name(host):
    from wnod_core.errors import BatchSystemError

    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        host.batch.fail_next("release", BatchSystemError("fake: scontrol timed out"), times=2)
        await host.engine.round()  # VWN destroyed; the job not handed back yet
        assert host.batch.bound_to(job) == answer.hostname
        other = await host.bait(host.submit("blue"))
        assert other.outcome is BaitOutcome.MIGRATED and other.hostname != answer.hostname
        await host.engine.round()
        assert host.batch.bound_to(job) is None

    run(flow())


def test_a_placement_does_not_read_every_job_in_flight(host):
    """A burst of baits must not be quadratic: placing a job reads neither every job in flight
    nor each one's VWN (the held slots come from one query)."""
    async def flow():
        await host.bait(host.submit("blue"))  # one job in flight, migrated
        store = host.engine.parts.store

        def every_job(*args, **kwargs):
            raise AssertionError("a placement read every job in flight")

        store.jobs = every_job
        try:
            return await host.bait(host.submit("blue"))
        finally:
            del store.jobs

    assert run(flow()).outcome is BaitOutcome.MIGRATED


def test_a_destroy_that_waited_while_the_round_finished_it_does_not_fail(host):
    """bench/farm_scale.py, 20 daemons: an eviction recorded its victim DESTROYING, and before its
    destroy took the VWN's guard the round took it, found it DESTROYING and finished the destroy;
    the eviction's destroy then moved its own, older record and failed the job's bait with
    IllegalTransition ("no longer destroying"). A destroy reads the VWN again once it holds it."""
    from wnod_core.engine import lifecycle

    async def flow():
        job = host.submit("blue")
        vwn_id = (await host.bait(job)).vwn_id
        host.batch.start(job)
        await host.engine.round()
        host.batch.finish(job)
        await host.engine.round()
        p = host.engine.parts
        victim = p.records.move(p.store.vwn(vwn_id), VwnState.DESTROYING)  # as the eviction does
        held, let_go = asyncio.Event(), asyncio.Event()

        async def the_round() -> None:
            async with p.guards.acting_on(vwn_id):
                held.set()
                await let_go.wait()
                await lifecycle.destroy(p, p.store.vwn(vwn_id), "finishing an earlier destroy")

        rounds = asyncio.create_task(the_round())
        await held.wait()
        evicting = asyncio.create_task(lifecycle.destroy(p, victim, "room needed for a red VWN"))
        await asyncio.sleep(0.05)
        let_go.set()
        await rounds
        return await evicting

    gone = run(flow())
    assert gone.state is VwnState.DESTROYED
    assert host.hypervisor.calls_to("destroy") == [(gone.id,)]  # once: the round's
