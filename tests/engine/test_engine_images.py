"""VM types whose image comes from the host's library: a VWN boots the version current when it was
made and keeps it to its end; a publish retires idle VWNs of the old version at their next reuse
decision, never a running one."""

import asyncio
import threading
from pathlib import Path

import attrs

from wnod_core.config.schema import ImagesSection
from wnod_core.engine.placement import Create, Evict, place
from wnod_core.images import HostImages
from wnod_core.images.rolled_out import REFRESH, RolledOut
from wnod_core.images.seal import import_disk
from wnod_core.images.source import Source
from wnod_core.interfaces import BaitOutcome
from wnod_core.model import HostCapacity, ImageSource, VmType, Vwn, VwnState
from wnod_core.model.events import JobStep
from wnod_core.testing.tamper import flip_byte

IMAGE = "debian-science"


def run(coro):
    return asyncio.run(coro)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _library_host(host, tmp_path: Path, versions: int = 2, images: HostImages | None = None) -> tuple[HostImages, Clock]:
    """The host's VM types' image from its library, with `versions` versions made there (or `images`'s)."""
    if images is None:
        images = HostImages.of(ImagesSection(library=str(tmp_path / "images")))
        for n in range(1, versions + 1):
            import_disk(images, IMAGE, _disk(tmp_path, n), lambda _line: None)
    clock = Clock()
    types = {name: attrs.evolve(t, image=IMAGE, image_source=ImageSource.LIBRARY)
             for name, t in host.policy.vm_types.items()}
    host.policy = attrs.evolve(host.policy, vm_types=RolledOut(types, images.library, clock=clock),
                               library=images.library)
    host.new_engine()
    return images, clock


def _disk(tmp_path: Path, n: int) -> Path:
    disk = tmp_path / f"{n}.raw"
    disk.write_bytes(b"version %d\n" % n)
    return disk


def _created_disks(host) -> list[Path | None]:
    return [spec.image_disk for (spec,) in host.hypervisor.calls_to("create")]


def test_a_vwn_keeps_its_version_to_its_end_and_the_next_one_boots_the_published_one(host, tmp_path) -> None:
    images, clock = _library_host(host, tmp_path)
    images.publish(IMAGE, 1)
    v1, v2 = images.library.disk(IMAGE, 1), images.library.disk(IMAGE, 2)

    async def flow():
        first = host.submit("blue")
        old = (await host.bait(first)).vwn_id
        host.batch.start(first)
        await host.engine.round()
        images.publish(IMAGE, 2)
        clock.now += REFRESH
        await host.engine.round()
        # Running: untouched by the publish, and still of version 1.
        assert host.engine.parts.store.vwn(old).state is VwnState.RUNNING
        assert host.engine.parts.store.vwn(old).image_version == "1"
        second = host.submit("blue")
        new = (await host.bait(second)).vwn_id
        host.batch.start(second)
        host.batch.finish(first)
        await host.engine.round()
        return old, new

    old, new = run(flow())
    assert _created_disks(host) == [v1, v2]
    assert host.engine.parts.store.vwn(new).image_version == "2"
    # Each job's steps (what the ledger and the metrics hear) name the version its VWN booted.
    ended = [(e.vwn_id, e.image_version) for e in host.heard.steps if e.step is JobStep.ENDED]
    assert ended == [(old, "1")]
    started = {e.vwn_id: e.image_version for e in host.heard.steps if e.step is JobStep.STARTED}
    assert started == {old: "1", new: "2"}
    # The old VWN's job ended: at its reuse decision it was retired, not kept for another job.
    assert host.engine.parts.store.vwn(old).state is VwnState.DESTROYED
    assert host.hypervisor.calls_to("reset_scratch") == []


def test_an_idle_vwn_of_the_old_version_is_retired_at_the_next_job_and_a_rollback_is_the_same(host, tmp_path):
    images, clock = _library_host(host, tmp_path)
    images.publish(IMAGE, 1)
    job_through = host.through

    first = run(job_through())
    assert host.engine.parts.store.vwn(first).state is VwnState.IDLE
    images.publish(IMAGE, 2)
    clock.now += REFRESH
    second = run(job_through())
    assert second != first
    run(host.engine.round())
    assert host.engine.parts.store.vwn(first).state is VwnState.DESTROYED
    images.rollback(IMAGE)
    clock.now += REFRESH
    third = run(job_through())
    assert third not in (first, second)
    assert host.engine.parts.store.vwn(third).image_version == "1"
    assert _created_disks(host) == [images.library.disk(IMAGE, v) for v in (1, 2, 1)]


def test_old_idle_vwns_are_not_retired_all_at_once_and_a_quick_rollback_finds_them_warm(host, tmp_path):
    images, clock = _library_host(host, tmp_path)
    images.publish(IMAGE, 1)
    job_through = host.through

    def state(vwn_id: str) -> VwnState:
        return host.engine.parts.store.vwn(vwn_id).state

    first = run(job_through())
    images.publish(IMAGE, 2)
    clock.now += REFRESH
    run(host.engine.round())
    assert state(first) is VwnState.IDLE, "the round leaves it for its next reuse decision"
    images.rollback(IMAGE)
    clock.now += REFRESH
    assert run(job_through()) == first, "current again: reused, no boot"
    images.publish(IMAGE, 2)
    clock.now += REFRESH
    # bob's job of another type has room: it leaves alice's old VWN alone; hers retires it.
    other = run(job_through("red", user="bob"))
    assert state(first) is VwnState.IDLE and other != first
    second = run(job_through())
    assert state(first) is VwnState.DESTROYED and second not in (first, other)
    assert host.engine.parts.store.vwn(second).image_version == "2"


def test_room_is_made_from_idle_vwns_of_an_old_version_first():
    types = {n: VmType(name=n, image=f"{n}.img", vcpus=1, memory="1GiB", image_version="2") for n in ("a", "b")}

    def idle(n: int, vm_type: str, version: str) -> Vwn:
        return Vwn(id=f"v{n}", host="hv01", vm_type=vm_type, state=VwnState.IDLE, created_at=0.0,
                   updated_at=float(n), slot=n, image_version=version, vcpus=1, memory=1024**3)

    older_current, newer_old = idle(1, "a", "2"), idle(2, "a", "1")
    capacity = HostCapacity(vcpus=2, memory="2GiB", max_vwns=2)
    assert place(types["b"], [older_current, newer_old], types, capacity) == Evict((newer_old,)), \
        "the old version's VWN goes first though it was used last: no job will ever take it"
    # A job of a's type retires the old VWN it would have taken, but not one of another size.
    assert place(types["a"], [newer_old], types, capacity) == Evict((newer_old,))
    bigger = attrs.evolve(newer_old, vcpus=2, memory=2 * 1024**3)
    assert place(types["a"], [bigger], types, HostCapacity(vcpus=4, memory="4GiB", max_vwns=2)) == Create(1)


def test_a_type_with_no_published_version_puts_the_job_back_to_pending_never_fails_it(host, tmp_path) -> None:
    _library_host(host, tmp_path)
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is not BaitOutcome.MIGRATED
    flight = host.engine.parts.store.job(job)
    assert flight.step is JobStep.REQUEUED, flight
    assert "no version of image" in flight.detail and f"wnod image publish {IMAGE}@N" in flight.detail
    assert host.hypervisor.calls_to("create") == []
    # Known before any boot: no VWN recorded or closed for it, and no boot failure counted.
    assert host.batch.calls_to("close_host") == [] and host.engine.vwns() == []
    assert host.engine.parts.breaker.report() == {"host": "closed", "types": {}}
    assert [v for v in host.engine.vwns() if v.state is not VwnState.DESTROYED] == []


def test_a_current_disk_changed_after_it_was_verified_is_never_booted_and_the_job_goes_back(host, tmp_path) -> None:
    images, _clock = _library_host(host, tmp_path)
    images.publish(IMAGE, 1)
    flip_byte(images.library.disk(IMAGE, 1), 3)  # edited in place, say, after its publish
    job = host.submit("blue")
    answer = run(host.bait(job))
    assert answer.outcome is not BaitOutcome.MIGRATED
    flight = host.engine.parts.store.job(job)
    assert flight.step is JobStep.REQUEUED, flight
    assert "changed since it was verified" in flight.detail and "refused, never booted" in flight.detail
    assert host.hypervisor.calls_to("create") == []


def test_a_broken_image_stops_its_own_type_only_never_the_hosts_baits(host, tmp_path) -> None:
    """The per-host circuit breaker counts a boot that fails for the host's sake; an image whose disk
    cannot be had here (changed since it was verified, say) is its type's trouble: after
    breaker_failures of them the host's baits stay open and its other types boot as before."""
    images, _clock = _library_host(host, tmp_path)
    # The type's own breaker would stop the boots first: kept out of the way, to see the host's.
    engine = attrs.evolve(host.policy.engine, breaker_type_failures=50)
    host.policy = attrs.evolve(host.policy, baits=("bait01",), engine=engine, vm_types=RolledOut(
        {"blue": host.policy.vm_types["blue"], "red": attrs.evolve(host.policy.vm_types["red"], image="red.img",
                                                                   image_source=ImageSource.STORE)},
        images.library))
    host.new_engine()
    images.publish(IMAGE, 1)
    flip_byte(images.library.disk(IMAGE, 1), 3)
    for _ in range(host.policy.engine.breaker_failures + 1):
        answer = run(host.bait(host.submit("blue")))
        assert answer.outcome is BaitOutcome.RETRY
    assert host.engine.parts.breaker.report() == {"host": "closed", "types": {}}
    assert not host.batch.is_closed("bait01"), "the host's other types still take jobs"
    assert run(host.bait(host.submit("red"))).outcome is BaitOutcome.MIGRATED


def test_a_job_while_a_version_is_being_pulled_boots_the_current_one_never_the_half_copied(
        host, tmp_path, monkeypatch) -> None:
    source = tmp_path / "source"
    build = HostImages.of(ImagesSection(library=str(tmp_path / "build"), source=str(source)))
    for n in (1, 2):
        import_disk(build, IMAGE, _disk(tmp_path, n), lambda _line: None)
        build.source().push(build.library, IMAGE, n)
    images, clock = _library_host(host, tmp_path, images=HostImages.of(
        ImagesSection(library=str(tmp_path / "images"), source=str(source))))
    images.publish(IMAGE, 1)
    copied, go_on = threading.Event(), threading.Event()
    fetch = Source.fetch

    def slow(self, image, version, into):  # a disk of many GiB: the copy takes minutes
        fetch(self, image, version, into)
        copied.set()
        assert go_on.wait(30)

    monkeypatch.setattr(Source, "fetch", slow)
    publisher = threading.Thread(target=images.publish, args=(IMAGE, 2))
    publisher.start()
    try:
        assert copied.wait(30)
        clock.now += REFRESH
        first = run(host.bait(host.submit("blue")))
        assert first.outcome is BaitOutcome.MIGRATED
        assert images.library.versions(IMAGE) == [1], "not in the library until whole and verified"
    finally:
        go_on.set()
        publisher.join(30)
    clock.now += REFRESH
    second = run(host.bait(host.submit("red")))
    assert second.outcome is BaitOutcome.MIGRATED
    assert _created_disks(host) == [images.library.disk(IMAGE, 1), images.library.disk(IMAGE, 2)]
