"""The fakes' call log, failure injection and held-back calls, seen through the fake batch system."""

import threading

import pytest

from wnod_core.errors import BatchSystemError, HypervisorError, JobNotFound
from wnod_core.model import JobState
from wnod_core.testing.fakes import Call, FakeBatchSystem, FakeHypervisor


def test_the_log_holds_interface_calls_in_order_and_no_driving(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.register_host("vwn-a")
    fake_batch.host_ready("vwn-a", 0.0)
    fake_batch.migrate(job.job_id, "vwn-a")
    fake_batch.start(job.job_id)
    assert fake_batch.calls == [Call("host_ready", ("vwn-a", 0.0)), Call("migrate", (job.job_id, "vwn-a"))]
    assert fake_batch.calls_to("migrate") == [(job.job_id, "vwn-a")]
    fake_batch.clear_calls()
    assert fake_batch.calls == []


def test_a_failed_call_is_logged_too(fake_batch: FakeBatchSystem) -> None:
    with pytest.raises(JobNotFound):
        fake_batch.job_facts("404")
    assert fake_batch.calls == [Call("job_facts", ("404",))]


def test_an_injected_failure_strikes_once_and_changes_nothing(fake_batch: FakeBatchSystem) -> None:
    job = fake_batch.submit("alice")
    fake_batch.fail_next("migrate", BatchSystemError("scontrol: timed out"))
    with pytest.raises(BatchSystemError, match="timed out"):
        fake_batch.migrate(job.job_id, "vwn-a")
    assert fake_batch.bound_to(job.job_id) is None
    fake_batch.migrate(job.job_id, "vwn-a")
    assert fake_batch.bound_to(job.job_id) == "vwn-a"


def test_injected_failures_queue_up_and_count(fake_batch: FakeBatchSystem) -> None:
    fake_batch.fail_next("host_ready", BatchSystemError("first"), times=2)
    fake_batch.fail_next("host_ready", BatchSystemError("second"))
    messages = []
    for _ in range(3):
        with pytest.raises(BatchSystemError) as err:
            fake_batch.host_ready("vwn-a", 0.0)
        messages.append(str(err.value))
    assert messages == ["first", "first", "second"]
    assert fake_batch.host_ready("vwn-a", 0.0) is False


def test_a_lasting_failure_holds_until_cleared(fake_hypervisor: FakeHypervisor) -> None:
    fake_hypervisor.fail_next("domains", HypervisorError("libvirt: connection lost"), times=None)
    for _ in range(5):
        with pytest.raises(HypervisorError):
            fake_hypervisor.domains()
    fake_hypervisor.clear_failures()
    assert fake_hypervisor.domains() == []


@pytest.mark.parametrize("method", ["migrat", "submit", "start"])
def test_only_interface_methods_can_be_failed(fake_batch: FakeBatchSystem, method: str) -> None:
    # A misspelt name would otherwise inject nothing and let the test pass for the wrong reason.
    with pytest.raises(ValueError, match="not an interface method"):
        fake_batch.fail_next(method, BatchSystemError("never"))


def test_a_failure_must_strike_at_least_once(fake_batch: FakeBatchSystem) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fake_batch.fail_next("migrate", BatchSystemError("never"), times=0)


def test_a_held_back_call_stages_a_race(fake_batch: FakeBatchSystem) -> None:
    # The job is cancelled while wnod's migrate is on its way: migrate must find it gone.
    job = fake_batch.submit("alice")
    arrived, go = threading.Event(), threading.Event()

    def hold_back(args: tuple[object, ...]) -> None:
        arrived.set()
        assert go.wait(5)

    remove = fake_batch.before("migrate", hold_back)
    outcome: list[BaseException | None] = []

    def migrate() -> None:
        try:
            fake_batch.migrate(job.job_id, "vwn-a")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread to assert on
            outcome.append(exc)

    worker = threading.Thread(target=migrate)
    worker.start()
    assert arrived.wait(5)
    fake_batch.cancel(job.job_id)
    go.set()
    worker.join(5)
    assert isinstance(outcome[0], JobNotFound)
    assert fake_batch.job_facts(job.job_id).state is JobState.CANCELLED
    remove()
    fake_batch.migrate(fake_batch.submit("bob").job_id, "vwn-a")  # no longer held back


def test_a_hook_sees_the_calls_arguments(fake_hypervisor: FakeHypervisor) -> None:
    seen: list[tuple[object, ...]] = []
    fake_hypervisor.before("destroy", seen.append)
    fake_hypervisor.destroy("vwn-1")
    assert seen == [("vwn-1",)]
