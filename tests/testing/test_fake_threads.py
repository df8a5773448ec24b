"""The fakes stay consistent when the engine's worker threads call them at once."""

import threading
from collections.abc import Callable

from wnod_core.interfaces import DomainEvent, DomainState, VwnSpec
from wnod_core.model import JobState, VmType
from wnod_core.testing.fakes import FakeBatchSystem, FakeHypervisor

THREADS = 8
PER_THREAD = 50


def _run_together(work: Callable[[int], None]) -> None:
    """Run `work(n)` on THREADS threads released at once; re-raise the first failure."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            work(n)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures[0]


def test_jobs_flow_through_the_batch_system_from_many_threads(fake_batch: FakeBatchSystem) -> None:
    started: list[str] = []

    def work(n: int) -> None:
        host = f"vwn-{n}"
        fake_batch.register_host(host)
        for _ in range(PER_THREAD):
            job = fake_batch.submit(f"user{n}")
            fake_batch.migrate(job.job_id, host)
            started.append(fake_batch.start(job.job_id))
            fake_batch.finish(job.job_id)

    _run_together(work)
    assert len(started) == THREADS * PER_THREAD
    assert len(fake_batch.calls_to("migrate")) == THREADS * PER_THREAD
    ids = {c[0] for c in fake_batch.calls_to("migrate")}
    assert len(ids) == THREADS * PER_THREAD, "every job got its own id"
    assert all(fake_batch.job_facts(i).state is JobState.FINISHED for i in ids)


def test_vwns_come_and_go_from_many_threads(fake_hypervisor: FakeHypervisor) -> None:
    events: list[DomainEvent] = []
    fake_hypervisor.watch(events.append)
    vm_type = VmType(name="alpha", image="alpha.img")

    def work(n: int) -> None:
        for i in range(PER_THREAD):
            spec = VwnSpec(vwn_id=f"vwn-{n}-{i}", vm_type=vm_type, host="hv-1", hostname=f"vwn-{n}-{i}")
            fake_hypervisor.create(spec)
            fake_hypervisor.create(spec)
            if i % 2:
                fake_hypervisor.destroy(spec.vwn_id)

    _run_together(work)
    alive = fake_hypervisor.domains()
    assert len(alive) == THREADS * PER_THREAD // 2
    assert all(d.state is DomainState.RUNNING for d in alive)
    assert len(events) == THREADS * PER_THREAD * 3 // 2, "one start per VWN, one end per destroyed VWN"
