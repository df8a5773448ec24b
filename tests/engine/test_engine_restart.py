"""A daemon restarted — or killed — at any point picks up where the records say it was."""

import asyncio
import sqlite3

import attrs
import pytest

from wnod_core.engine import Store, StoreError, StrayDecision
from wnod_core.engine.store import SCHEMA_VERSION
from wnod_core.errors import IllegalTransition
from wnod_core.interfaces import BaitOutcome, DomainState, VwnSpec
from wnod_core.model import Vwn, VwnState
from wnod_core.model.events import JobStep
from wnod_core.model.flight import JobFlight
from wnod_core.testing.kills import Killed, kill_after


def run(coro):
    return asyncio.run(coro)


def _at(flight: JobFlight, step: JobStep, now: float, **changes) -> JobFlight:
    """A record as it may stand after any number of steps: the store takes what it is given."""
    return attrs.evolve(flight, step=step, updated_at=now, times=(*flight.times, (step.value, now)), **changes)


def die_after(parts, target) -> None:
    """Make the engine die right after it records `target` (a job step or a VWN state)."""
    kill_after(parts.store, target)


@pytest.mark.parametrize(
    "target",
    [JobStep.BAIT_ENTERED, JobStep.RESOLVED, VwnState.CREATING, JobStep.VWN_ASSIGNED, VwnState.BOOTING,
     VwnState.READY, JobStep.VWN_READY, JobStep.MIGRATED],
)
def test_a_placement_killed_at_any_step_is_finished_by_the_next_daemon(host, target):
    async def flow():
        job = host.submit("blue")
        die_after(host.engine.parts, target)
        with pytest.raises(Killed):
            await host.bait(job)
        engine = host.new_engine()
        await engine.start()
        answer = await host.bait(job)  # the bait asks again once the daemon is back
        await engine.wait_idle()
        return job, answer

    job, answer = run(flow())
    assert answer.outcome is BaitOutcome.MIGRATED
    alive = host.engine.vwns()
    assert [(v.state, v.job_id) for v in alive] == [(VwnState.READY, job)]
    assert host.hypervisor.running() == [alive[0].id]
    assert host.batch.bound_to(job) == alive[0].hostname


def test_foreign_domains_are_left_alone_even_when_strays_are_reaped(host):
    blue = host.policy.vm_types["blue"]
    host.hypervisor.create(VwnSpec("hv01-s9-stray", blue, host.policy.host, "hv01-vwn9"))
    host.hypervisor.create(VwnSpec("hv02-s1-other", blue, "hv02.farm.test", "hv02-vwn1"))
    host.hypervisor.add_foreign("someone-elses-vm")

    found = run(host.engine.start(StrayDecision.REAP))
    assert found.strays == found.reaped == ("hv01-s9-stray",)
    assert found.others == ("hv02-s1-other",)
    assert host.hypervisor.domain("hv01-s9-stray") is None
    assert host.hypervisor.domain("hv02-s1-other") is not None
    assert host.hypervisor.foreign_domains() == {"someone-elses-vm": DomainState.RUNNING}


def test_a_vwn_lost_while_the_daemon_was_down_requeues_its_job(host):
    async def flow():
        job = host.submit("blue")
        answer = await host.bait(job)
        host.batch.start(job)
        await host.engine.round()
        host.hypervisor.crash(answer.vwn_id)
        engine = host.new_engine()
        found = await engine.start()
        return job, answer, found

    job, answer, found = run(flow())
    assert found.lost == (answer.vwn_id,)
    assert host.engine.vwns() == []
    assert host.engine.parts.store.job(job).step is JobStep.REQUEUED
    assert [c[0] for c in host.batch.calls_to("release")] == [job]


def test_a_creation_interrupted_before_the_domain_existed_is_rolled_back(host):
    store = host.engine.parts.store
    store.add_vwn(Vwn(id="hv01-s1-abc", host=host.policy.host, vm_type="blue", state=VwnState.CREATING,
                      created_at=1.0, updated_at=1.0, hostname="hv01-vwn1", slot=1))
    found = run(host.engine.start())
    assert found.lost == ("hv01-s1-abc",)
    assert store.vwn("hv01-s1-abc").state is VwnState.DESTROYED
    assert host.hypervisor.calls_to("destroy") == [("hv01-s1-abc",)]


def test_an_idle_vwn_survives_a_restart_and_is_reused(host):
    async def flow():
        first = host.submit("blue")
        await host.bait(first)
        host.batch.start(first)
        host.batch.finish(first)
        await host.engine.round()
        engine = host.new_engine()
        found = await engine.start()
        second = host.submit("blue")
        return found, await host.bait(second)

    found, answer = run(flow())
    assert len(found.adopted) == 1 and answer.outcome is BaitOutcome.MIGRATED
    assert len(host.hypervisor.calls_to("create")) == 1


class TestStore:
    def test_records_survive_reopening(self, tmp_path):
        path = tmp_path / "wnod.db"
        store = Store(path)
        vwn = Vwn(id="a", host="h", vm_type="t", state=VwnState.CREATING, created_at=1.0, updated_at=1.0, slot=2)
        store.add_vwn(vwn)
        store.save_job(_at(JobFlight.entered("42", "bait01", 1.0), JobStep.RESOLVED, 2.0, vm_type="t"))
        store.close()
        again = Store(path)
        assert again.vwn("a") == vwn
        flight = again.job("42")
        assert (flight.step, flight.vm_type, flight.time_of(JobStep.RESOLVED)) == (JobStep.RESOLVED, "t", 2.0)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_a_change_from_a_state_the_record_no_longer_has_is_refused(self, tmp_path):
        store = Store(tmp_path / "wnod.db")
        vwn = Vwn(id="a", host="h", vm_type="t", state=VwnState.CREATING, created_at=1.0, updated_at=1.0)
        store.add_vwn(vwn)
        store.update_vwn(vwn, vwn.moved_to(VwnState.BOOTING, 2.0))
        with pytest.raises(IllegalTransition, match="no longer creating"):
            store.update_vwn(vwn, vwn.moved_to(VwnState.DESTROYING, 3.0))
        with pytest.raises(IllegalTransition, match="already recorded"):
            store.add_vwn(vwn)

    def test_a_move_made_from_an_older_version_of_the_same_state_is_refused(self, tmp_path):
        store = Store(tmp_path / "wnod.db")
        idle = Vwn(id="v1", host="hv01", vm_type="blue", state=VwnState.IDLE, created_at=1.0, updated_at=1.0)
        store.add_vwn(idle)
        for_a = idle.moved_to(VwnState.READY, 2.0, job_id="A")
        store.update_vwn(idle, for_a)
        cleaning = for_a.moved_to(VwnState.CLEANING, 3.0, job_id=None)
        store.update_vwn(for_a, cleaning)
        back_idle = cleaning.moved_to(VwnState.IDLE, 4.0)
        store.update_vwn(cleaning, back_idle)
        store.update_vwn(back_idle, back_idle.moved_to(VwnState.READY, 5.0, job_id="B"))
        # A stale reader still holding READY(A) must not clean B's VWN.
        with pytest.raises(IllegalTransition, match="no longer ready"):
            store.update_vwn(for_a, for_a.moved_to(VwnState.CLEANING, 6.0, job_id=None))
        assert store.vwn("v1").job_id == "B"

    def test_finished_jobs_can_be_forgotten_but_jobs_in_flight_cannot(self, tmp_path):
        store = Store(tmp_path / "wnod.db")
        store.save_job(_at(JobFlight.entered("1", "b", 1.0), JobStep.ENDED, 2.0))
        store.save_job(JobFlight.entered("2", "b", 1.0))
        assert store.forget_jobs_before(10.0) == 1
        assert [f.job_id for f in store.jobs(in_flight=False)] == ["2"]

    def test_jobs_of_destroyed_vwns_are_found_by_step_with_their_vwn(self, tmp_path):
        store = Store(tmp_path / "wnod.db")
        for vwn_id, state, slot in (("dead", VwnState.DESTROYED, 3), ("live", VwnState.RUNNING, 4)):
            store.add_vwn(Vwn(id=vwn_id, host="h", vm_type="t", state=state, created_at=1.0, updated_at=1.0, slot=slot))
        entered = JobFlight.entered("1", "b", 1.0)
        store.save_job(_at(entered, JobStep.MIGRATED, 2.0, vwn_id="dead"))
        store.save_job(_at(JobFlight.entered("2", "b", 1.0), JobStep.STARTED, 2.0, vwn_id="live"))
        store.save_job(_at(JobFlight.entered("3", "b", 1.0), JobStep.REQUEUED, 2.0, vwn_id="dead"))
        store.save_job(_at(JobFlight.entered("4", "b", 1.0), JobStep.RESOLVED, 2.0))
        found = store.jobs_of_destroyed_vwns([JobStep.MIGRATED, JobStep.STARTED, JobStep.GIVING_BACK])
        assert [(f.job_id, f.step, v.id, v.slot) for f, v in found] == [("1", JobStep.MIGRATED, "dead", 3)]
        assert store.jobs_of_destroyed_vwns([JobStep.STARTED]) == []

    def test_a_database_from_a_newer_wnod_is_refused(self, tmp_path):
        path = tmp_path / "wnod.db"
        Store(path).close()
        db = sqlite3.connect(path)
        db.execute("PRAGMA user_version = 99")
        db.close()
        with pytest.raises(StoreError, match="newer wnod"):
            Store(path)


@pytest.mark.parametrize("target", [VwnState.CLEANING, VwnState.DESTROYING])
def test_a_clean_up_killed_half_way_is_finished_by_the_next_daemon(host, target):
    if target is VwnState.DESTROYING:
        host.reconfigure(reuse={"max_reuses": 0})

    async def flow():
        job = host.submit("blue")
        await host.bait(job)
        host.batch.start(job)
        host.batch.finish(job)
        die_after(host.engine.parts, target)
        with pytest.raises(Killed):
            await host.engine.round()
        engine = host.new_engine()
        await engine.start()
        await engine.round()

    run(flow())
    if target is VwnState.CLEANING:
        assert [v.state for v in host.engine.vwns()] == [VwnState.IDLE]
    else:
        assert host.engine.vwns() == [] and host.hypervisor.running() == []


def test_a_database_of_schema_1_is_brought_up_to_date(tmp_path):
    path = tmp_path / "wnod.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE vwns (id TEXT PRIMARY KEY, host TEXT NOT NULL, vm_type TEXT NOT NULL, state TEXT NOT NULL,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, hostname TEXT, job_id TEXT,
            reuse_count INTEGER NOT NULL DEFAULT 0, image_version TEXT NOT NULL DEFAULT '',
            slot INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE jobs (job_id TEXT PRIMARY KEY, step TEXT NOT NULL, bait_host TEXT NOT NULL,
            updated_at REAL NOT NULL, user TEXT NOT NULL DEFAULT '', vm_type TEXT NOT NULL DEFAULT '',
            vwn_id TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, reused INTEGER,
            detail TEXT NOT NULL DEFAULT '', times TEXT NOT NULL DEFAULT '[]');
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO vwns VALUES ('v1', 'hv01', 'blue', 'idle', 1.0, 2.0, 'hv01-vwn1', NULL, 0, '', 1);
        INSERT INTO jobs VALUES ('7', 'migrated', 'bait01', 2.0, 'alice', 'blue', 'v1', 1, 0, '', '[]');
        PRAGMA user_version = 1;
        """
    )
    db.close()
    store = Store(path)
    [vwn] = store.vwns()
    assert (vwn.id, vwn.state) == ("v1", VwnState.IDLE)
    assert store.job("7").giving_back_as is None
    assert (store.job("7").stray_on, store.stray_names()) == ("", set())
    store.update_vwn(vwn, vwn.moved_to(VwnState.DESTROYING, 3.0))
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("hypervisor_fails", [False, True])
def test_a_domain_whose_vwn_is_recorded_destroyed_is_destroyed_again_at_start(host, hypervisor_fails):
    """A create wnod gave up on may land after all, and a kill may come before its undo: the next
    daemon finds a domain of a VWN its records have destroyed. It must start (found by dev/soak:
    it tried to adopt the domain under the recorded id and could not start), destroy the domain,
    and place no job on the host until it has."""
    from wnod_core.errors import HypervisorError

    async def flow():
        vwn_id = (await host.bait(host.submit("blue"))).vwn_id
        p = host.engine.parts
        vwn = p.records.move(p.store.vwn(vwn_id), VwnState.DESTROYING)
        p.records.move(vwn, VwnState.DESTROYED, job_id=None)  # recorded gone; the domain runs on
        if hypervisor_fails:
            host.hypervisor.fail_next("destroy", HypervisorError("fake: virsh destroy timed out"))
        engine = host.new_engine()
        found = await engine.start()
        return vwn_id, found, engine

    vwn_id, found, engine = run(flow())
    assert vwn_id not in found.strays_adopted
    if hypervisor_fails:
        assert host.hypervisor.running() == [vwn_id] and vwn_id in engine.parts.quarantine
        run(engine.round())  # the rounds try again
    assert host.hypervisor.running() == []
    assert not engine.parts.quarantine
    assert engine.parts.store.vwn(vwn_id).state is VwnState.DESTROYED
