"""Which version new VWNs get on a host: publish, roll back, and what the engine sees of it."""

import attrs
import pytest

from wnod_core.errors import HypervisorError, ImageError
from wnod_core.images import rollout
from wnod_core.images.rolled_out import REFRESH, RolledOut, disk_of
from wnod_core.images.seal import import_disk
from wnod_core.model import ImageSource, VmType
from wnod_core.testing.tamper import flip_byte

IMAGE = "debian-science"


def _versions(images, tmp_path, n):
    for i in range(1, n + 1):
        disk = tmp_path / f"{i}.raw"
        disk.write_bytes(b"%d" % i * 100)
        import_disk(images, IMAGE, disk, lambda _line: None)


def test_publish_and_rollback_walk_the_history(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 3)
    assert images.rollout(IMAGE) == rollout.Rollout()
    assert images.publish(IMAGE, 1)[1] == rollout.Rollout(current=1)
    assert images.publish(IMAGE, 3)[1] == rollout.Rollout(current=3, history=(1,))
    assert images.publish(IMAGE, 3)[1] == rollout.Rollout(current=3, history=(1,))  # again: nothing changes
    assert images.publish(IMAGE, 2)[1] == rollout.Rollout(current=2, history=(1, 3))
    assert images.rollback(IMAGE)[1] == rollout.Rollout(current=3, history=(1,))
    assert images.rollback(IMAGE)[1] == rollout.Rollout(current=1)
    with pytest.raises(ImageError, match="no earlier version to roll back to on this host .current: 1"):
        images.rollback(IMAGE)


def test_a_rollback_from_a_version_leaves_a_host_where_it_is_not_current_as_it_is(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 3)
    for v in (1, 2):
        images.publish(IMAGE, v)
    # A farm's rollback of v3 on a host that never had it: going back would take it to v1.
    before, after = images.rollback(IMAGE, only_from=3)
    assert before == after == rollout.Rollout(current=2, history=(1,))
    assert images.rollout(IMAGE) == rollout.Rollout(current=2, history=(1,))
    assert images.rollback(IMAGE, only_from=2)[1] == rollout.Rollout(current=1)


def test_a_rollback_skips_versions_deleted_since(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 3)
    for v in (1, 2, 3):
        images.publish(IMAGE, v)
    images.delete(IMAGE, 2, in_use=set())
    assert images.rollback(IMAGE)[1] == rollout.Rollout(current=1)


def test_a_version_changed_in_the_library_since_it_came_is_never_published(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 2)
    images.publish(IMAGE, 1)
    flip_byte(images.library.disk(IMAGE, 2), 10)
    with pytest.raises(ImageError, match=rf"{IMAGE}@2|disk.raw does not match its manifest"):
        images.publish(IMAGE, 2)
    assert images.rollout(IMAGE) == rollout.Rollout(current=1), "nothing changed"


def test_a_rollback_to_a_version_changed_since_is_refused_and_changes_nothing(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 2)
    images.publish(IMAGE, 1)
    images.publish(IMAGE, 2)
    flip_byte(images.library.disk(IMAGE, 1), 10)
    with pytest.raises(ImageError, match="does not match its manifest"):
        images.rollback(IMAGE)
    assert images.rollout(IMAGE) == rollout.Rollout(current=2, history=(1,))


def test_a_disk_changed_after_its_last_verification_is_refused_at_boot_until_verified_good(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 1)
    images.publish(IMAGE, 1)
    vm_type = VmType(name="sci", image=IMAGE, image_source=ImageSource.LIBRARY)
    disk = images.library.disk(IMAGE, 1)
    assert disk_of(images.library, vm_type, "1") == disk
    flip_byte(disk, 10)
    with pytest.raises(HypervisorError, match=rf"{IMAGE}@1: .*disk.raw changed since it was verified \(mtime_ns"
                       rf" .*\): refused, never booted \(wnod image verify {IMAGE}@1"):
        disk_of(images.library, vm_type, "1")
    with pytest.raises(ImageError, match="does not match its manifest"):
        images.check(IMAGE, 1)
    flip_byte(disk, 10)  # put back as it was: a whole verification passes, and it boots again
    images.check(IMAGE, 1)
    assert disk_of(images.library, vm_type, "1") == disk


def test_a_disk_never_verified_here_is_not_booted(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 1)
    (images.library.version_dir(IMAGE, 1) / "verified.json").unlink()
    vm_type = VmType(name="sci", image=IMAGE, image_source=ImageSource.LIBRARY)
    with pytest.raises(HypervisorError, match="was never verified on this host"):
        disk_of(images.library, vm_type, "1")


def test_publishing_a_version_not_in_the_library_nor_at_the_source_is_refused(host_images, tmp_path) -> None:
    images = host_images(source=str(tmp_path / "nothing"))
    with pytest.raises(ImageError, match=f"{IMAGE}@4 is not at the image source"):
        images.publish(IMAGE, 4)
    assert images.rollout(IMAGE).current is None


def test_a_garbled_rollout_state_is_named(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 1)
    rollout.state_path(images.library, IMAGE).write_text('{"current": "two"}')
    with pytest.raises(ImageError, match=r"rollout.json: current: expected a version number"):
        images.rollout(IMAGE)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_engine_sees_the_published_version_within_a_refresh(host_images, tmp_path) -> None:
    images = host_images()
    _versions(images, tmp_path, 2)
    library_type = VmType(name="sci", image=IMAGE, image_source=ImageSource.LIBRARY)
    store_type = VmType(name="plain", image="plain.qcow2", image_version="label")
    clock = Clock()
    seen = RolledOut({"sci": library_type, "plain": store_type}, images.library, clock=clock)
    assert seen["sci"].image_version == "" and seen["plain"] is store_type
    with pytest.raises(HypervisorError, match=f'no version of image "{IMAGE}" is published on this host'):
        disk_of(images.library, seen["sci"], seen["sci"].image_version)
    images.publish(IMAGE, 1)
    assert seen["sci"].image_version == ""  # read less than REFRESH ago
    clock.now += REFRESH
    assert seen["sci"] == attrs.evolve(library_type, image_version="1")
    assert disk_of(images.library, seen["sci"], "1") == images.library.disk(IMAGE, 1)
    assert disk_of(images.library, store_type, "label") is None
    assert list(seen) == ["sci", "plain"] and len(seen) == 2
    with pytest.raises(HypervisorError, match=f'VM type "sci": {IMAGE}@7 is not in the image library'):
        disk_of(images.library, seen["sci"], "7")
    # A change this daemon made itself (a publish over its API) is seen at the next decision.
    images.publish(IMAGE, 2)
    assert seen["sci"].image_version == "1"
    seen.invalidate()
    assert seen["sci"].image_version == "2"
