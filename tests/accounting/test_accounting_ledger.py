"""The accounting ledger: one JSON line per job wnod is done with, whatever else happens."""

import asyncio
import json
import logging
import threading
from pathlib import Path

import attrs
import pytest

from wnod_core.accounting import SCHEMA, AccountingLedger
from wnod_core.chain import Link, ResolverChain
from wnod_core.config.schema import EngineSection
from wnod_core.engine import Engine, HostPolicy, Parts, Store
from wnod_core.interfaces import BaitOutcome, Resolver
from wnod_core.model import HostCapacity, JobFacts, Resolved, ReusePolicy, VmType
from wnod_core.model.events import JobStep, JobStepped
from wnod_core.model.flight import FINAL_STEPS, JobFlight
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.testing.fakes import FakeBatchSystem, FakeHypervisor

HOST = "hv01.farm.test"
T0 = 1_700_000_000.0
THE_WAY_THROUGH = [
    JobStep.RESOLVED,
    JobStep.VWN_ASSIGNED,
    JobStep.VWN_READY,
    JobStep.MIGRATED,
    JobStep.STARTED,
    JobStep.ENDED,
]


def journey(job_id: str, steps: list[JobStep], **facts: object) -> list[JobStepped]:
    """What the engine broadcasts for a job that enters its bait and then takes `steps`, one a second."""
    flight = JobFlight.entered(job_id, "bait01", T0)
    events = [stepped(flight)]
    for n, step in enumerate(steps, start=1):
        # Any sequence the ledger may hear (it keeps no protocol of its own): set outright.
        at = T0 + n
        flight = attrs.evolve(flight, step=step, updated_at=at, times=(*flight.times, (step.value, at)), **facts)
        events.append(stepped(flight))
    return events


def stepped(flight: JobFlight) -> JobStepped:
    return JobStepped.of(flight, HOST)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "accounting.jsonl"


def test_a_job_that_ran_in_a_vwn_gets_one_line_with_every_field(ledger_path):
    ledger = AccountingLedger(ledger_path)
    facts = dict(user="alice", vm_type="blue", vwn_id="hv01-s1-abc123", reused=False, detail="job done")
    for event in journey("1234", THE_WAY_THROUGH, **facts):
        ledger.wnod_job_step(attrs.evolve(event, image_version="3"))

    assert lines(ledger_path) == [
        {
            "schema": SCHEMA,
            "job_id": "1234",
            "user": "alice",
            "vm_type": "blue",
            "host": HOST,
            "vwn_id": "hv01-s1-abc123",
            "reused": False,
            "image_version": "3",
            "outcome": "ended",
            "detail": "job done",
            "at": T0 + 6,
            "times": {
                "bait_entered": T0,
                "resolved": T0 + 1,
                "vwn_assigned": T0 + 2,
                "vwn_ready": T0 + 3,
                "migrated": T0 + 4,
                "started": T0 + 5,
                "ended": T0 + 6,
            },
        }
    ]


def test_steps_before_the_end_write_nothing(ledger_path):
    ledger = AccountingLedger(ledger_path)
    for event in journey("1234", THE_WAY_THROUGH[:-1], user="alice", vm_type="blue"):
        ledger.wnod_job_step(event)
    assert not ledger_path.exists()


@pytest.mark.parametrize("outcome", sorted(FINAL_STEPS - {JobStep.ENDED}))
def test_a_job_wnod_gave_back_is_recorded_with_its_outcome_and_nulls_for_what_never_happened(
    ledger_path, outcome
):
    ledger = AccountingLedger(ledger_path)
    # Handed back as the engine does it: intent recorded first, then the outcome once confirmed.
    for event in journey("77", [JobStep.RESOLVED, JobStep.GIVING_BACK, outcome], user="bob", detail="no room"):
        ledger.wnod_job_step(event)

    [record] = lines(ledger_path)
    assert (record["outcome"], record["detail"], record["at"]) == (outcome.value, "no room", T0 + 3)
    assert (record["vm_type"], record["vwn_id"], record["reused"]) == (None, None, None)
    assert record["times"] == {
        "bait_entered": T0,
        "resolved": T0 + 1,
        "vwn_assigned": None,
        "vwn_ready": None,
        "migrated": None,
        "started": None,
        "ended": None,
    }


def test_a_job_sent_round_again_is_timed_from_its_first_bait_entry_to_its_last_vwn(ledger_path):
    ledger = AccountingLedger(ledger_path)
    again = [JobStep.RESOLVED, JobStep.VWN_ASSIGNED, JobStep.BAIT_ENTERED, *THE_WAY_THROUGH]
    for event in journey("9", again, vm_type="red"):
        ledger.wnod_job_step(event)
    [record] = lines(ledger_path)
    assert record["times"]["bait_entered"] == T0
    assert (record["times"]["resolved"], record["times"]["vwn_assigned"]) == (T0 + 4, T0 + 5)


def test_a_final_event_without_its_trail_still_records_its_own_time(ledger_path):
    ledger = AccountingLedger(ledger_path)
    ledger.wnod_job_step(JobStepped(job_id="5", step=JobStep.FAILED, at=T0, host=HOST, detail="boot failed"))
    [record] = lines(ledger_path)
    assert record["outcome"] == "failed"
    assert record["times"]["bait_entered"] is None


def test_each_job_appends_its_own_line_to_the_same_file(ledger_path):
    ledger = AccountingLedger(ledger_path, fsync=True)
    for job in ("1", "2", "3"):
        for event in journey(job, THE_WAY_THROUGH):
            ledger.wnod_job_step(event)
    assert [r["job_id"] for r in lines(ledger_path)] == ["1", "2", "3"]


def test_a_record_after_the_file_was_moved_aside_starts_a_new_file(ledger_path):
    ledger = AccountingLedger(ledger_path)
    ledger.wnod_job_step(journey("1", THE_WAY_THROUGH)[-1])
    rotated = ledger_path.with_name("accounting.jsonl.1")
    ledger_path.rename(rotated)

    ledger.wnod_job_step(journey("2", THE_WAY_THROUGH)[-1])

    assert [r["job_id"] for r in lines(rotated)] == ["1"]
    assert [r["job_id"] for r in lines(ledger_path)] == ["2"]


def test_a_ledger_it_cannot_write_is_logged_with_the_record_and_never_raised(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ledger = AccountingLedger(blocker / "accounting.jsonl")

    with caplog.at_level(logging.ERROR, logger="wnod.accounting"):
        ledger.wnod_job_step(journey("1234", THE_WAY_THROUGH, user="alice")[-1])

    [message] = [r.getMessage() for r in caplog.records if r.name == "wnod.accounting"]
    assert "job 1234 not recorded" in message
    assert '"user":"alice"' in message


def test_concurrent_writers_leave_whole_lines(ledger_path):
    # Records bigger than a pipe buffer, from threads of two ledgers on the same file.
    ledgers = [AccountingLedger(ledger_path), AccountingLedger(ledger_path)]
    per_thread, threads = 50, 8
    detail = "x" * 20_000

    def write(n: int) -> None:
        for i in range(per_thread):
            event = JobStepped(job_id=f"{n}.{i}", step=JobStep.ENDED, at=T0, host=HOST, detail=detail)
            ledgers[n % 2].wnod_job_step(event)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    records = lines(ledger_path)  # a torn or interleaved line would not parse
    assert len(records) == per_thread * threads
    assert {r["job_id"] for r in records} == {f"{n}.{i}" for n in range(threads) for i in range(per_thread)}
    assert all(r["detail"] == detail for r in records)


# -- through the plugin manager, as the daemon registers it ----------------------------------------


def test_registered_in_process_it_hears_the_broadcasts(ledger_path):
    plugins = Plugins.load(installed=False, extra=[("accounting", AccountingLedger(ledger_path))])
    [report] = [r for r in plugins.reports() if r.name == "accounting"]
    assert report.status is Status.LOADED, report.error

    for event in journey("1", THE_WAY_THROUGH, user="alice", vm_type="blue", vwn_id="v1", reused=True):
        plugins.job_step(event)
    for event in journey("2", [JobStep.REFUSED], user="mallory", detail="queue closed"):
        plugins.job_step(event)

    assert [(r["job_id"], r["outcome"], r["reused"]) for r in lines(ledger_path)] == [
        ("1", "ended", True),
        ("2", "refused", None),
    ]


def test_a_broken_ledger_does_not_break_the_broadcast(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    heard = []

    class Other:
        from wnod_core import hookimpl

        @hookimpl
        def wnod_job_step(self, event):
            heard.append(event.job_id)

    plugins = Plugins.load(
        installed=False,
        extra=[("accounting", AccountingLedger(blocker / "accounting.jsonl")), ("other", Other())],
    )
    with caplog.at_level(logging.ERROR):
        plugins.job_step(journey("1", THE_WAY_THROUGH)[-1])
    assert heard == ["1"]
    assert any("job 1 not recorded" in r.getMessage() for r in caplog.records)


# -- a job through a real engine, with the fakes --------------------------------------------------


class Blue(Resolver):
    def resolve(self, job: JobFacts):
        return Resolved("blue", "every job is blue here")


def test_jobs_through_the_engine_are_recorded_new_then_reused(tmp_path, ledger_path):
    batch = FakeBatchSystem()
    hypervisor = FakeHypervisor(
        on_create=lambda spec: batch.register_host(spec.hostname),
        on_destroy=lambda spec: batch.unregister_host(spec.hostname),
    )
    blue = VmType(name="blue", image="blue.img", vcpus=2, memory="2GiB", boot_timeout="1s", reuse=ReusePolicy())
    policy = HostPolicy(
        host=HOST,
        capacity=HostCapacity(vcpus=4, memory="4GiB", max_vwns=2),
        engine=EngineSection(poll_interval="0.01s"),
        vm_types={"blue": blue},
    )
    plugins = Plugins.load(installed=False, extra=[("accounting", AccountingLedger(ledger_path))])
    engine = Engine(
        Parts(
            policy=policy,
            store=Store(tmp_path / "state" / "wnod.db"),
            batch=batch,
            hypervisor=hypervisor,
            chain=ResolverChain([Link("blue", Blue())], policy.vm_types),
            listeners=plugins,
        )
    )

    async def one_job() -> str:
        job = batch.submit("alice", groups=("physics",), queue="short").job_id
        batch.dispatch_to_bait(job, "bait01")
        answer = await asyncio.wait_for(engine.bait(job, "bait01"), 10)
        assert answer.outcome is BaitOutcome.MIGRATED
        batch.start(job)
        await engine.round()
        batch.finish(job)
        await engine.round()
        return job

    async def two_jobs() -> list[str]:
        return [await one_job(), await one_job()]

    first, second = asyncio.run(two_jobs())

    records = lines(ledger_path)
    assert [(r["job_id"], r["outcome"], r["user"], r["vm_type"], r["reused"]) for r in records] == [
        (first, "ended", "alice", "blue", False),
        (second, "ended", "alice", "blue", True),
    ]
    assert records[0]["vwn_id"] == records[1]["vwn_id"] is not None
    for record in records:
        times = list(record["times"].values())
        assert None not in times, record["times"]
        assert times == sorted(times)
