"""A host's image library: versions appear whole or not at all, never change, and go only when
nothing needs them."""

import os
import stat

import pytest

from wnod_core.errors import ImageError
from wnod_core.images.library import STAGING
from wnod_core.images.manifest import DISK, MANIFEST
from wnod_core.images.seal import import_disk
from wnod_core.images.verify import sha256_of


def _import(images, tmp_path, say, image="debian-science", text="v"):
    disk = tmp_path / f"{image}-{text}.raw"
    disk.write_bytes(text.encode() * 1000)
    return import_disk(images, image, disk, say.append)


def test_an_imported_disk_becomes_the_next_version_read_only_and_described(host_images, tmp_path, say) -> None:
    images = host_images()
    first = _import(images, tmp_path, say, text="one")
    second = _import(images, tmp_path, say, text="two")
    library = images.library
    assert (first.ref, second.ref) == ("debian-science@1", "debian-science@2")
    assert library.versions("debian-science") == [1, 2]
    disk = library.disk("debian-science", 2)
    assert sha256_of(disk) == second.sha256 and second.size == 3000 and second.parent is None
    assert stat.S_IMODE(disk.stat().st_mode) == 0o400
    assert stat.S_IMODE(disk.parent.stat().st_mode) == 0o555
    assert library.manifest("debian-science", 2) == second
    assert "imported from" in second.note
    assert not [p for p in library.image_dir("debian-science").iterdir() if p.name.startswith(STAGING)]


def test_a_version_is_never_replaced(host_images, tmp_path, say) -> None:
    images = host_images()
    manifest = _import(images, tmp_path, say)
    with images.library.staging("debian-science") as staged:
        (staged / DISK).write_bytes(b"other")
        with pytest.raises(ImageError, match="already in the image library.*versions never change"):
            images.library.commit(staged, manifest)
    assert sha256_of(images.library.disk("debian-science", 1)) == manifest.sha256


def test_what_a_crashed_build_left_is_not_a_version_and_is_swept(host_images, tmp_path, say) -> None:
    images = host_images()
    _import(images, tmp_path, say)
    half = images.library.image_dir("debian-science") / f"{STAGING}crashed"
    half.mkdir()
    (half / DISK).write_bytes(b"half a disk")
    (images.library.image_dir("debian-science") / "2").mkdir()  # a directory without a manifest
    assert images.library.versions("debian-science") == [1]
    with pytest.raises(ImageError, match=r"debian-science@2 is not in the image library .*versions here: 1"):
        images.library.disk("debian-science", 2)
    assert images.library.sweep("debian-science") == [f"{STAGING}crashed"]
    assert not half.exists()


def test_a_version_being_made_by_another_process_is_never_swept(host_images, tmp_path, say) -> None:
    # An update VM runs for up to an hour in its staging directory; a pull or a prune meanwhile
    # (another `wnod image` command) must not take the directory from under it.
    import multiprocessing

    images = host_images()
    _import(images, tmp_path, say)
    library = images.library
    ready, done = multiprocessing.Event(), multiprocessing.Event()

    def builder() -> None:
        with library.staging("debian-science") as staged:
            (staged / DISK).write_bytes(b"being updated")
            ready.set()
            done.wait(30)

    process = multiprocessing.get_context("fork").Process(target=builder)
    process.start()
    try:
        assert ready.wait(30)
        [staged] = [p for p in library.image_dir("debian-science").iterdir() if p.name.startswith(STAGING)]
        assert library.sweep("debian-science") == []
        assert (staged / DISK).read_bytes() == b"being updated"
    finally:
        done.set()
        process.join(30)
    assert not staged.exists(), "the builder removes its own when it is done"

    # Killed while making it: the lock died with it, and the next sweep takes what it left.
    crashed = multiprocessing.get_context("fork").Process(target=builder)
    ready.clear()
    done.clear()
    crashed.start()
    assert ready.wait(30)
    crashed.kill()
    crashed.join(30)
    [left] = [p for p in library.image_dir("debian-science").iterdir() if p.name.startswith(STAGING)]
    assert library.sweep("debian-science") == [left.name]
    assert not left.exists()


def test_a_manifest_of_another_version_is_refused(host_images, tmp_path, say) -> None:
    images = host_images()
    _import(images, tmp_path, say)
    _import(images, tmp_path, say, text="two")
    where = images.library.version_dir("debian-science", 2)
    os.chmod(where, 0o755)
    os.chmod(where / MANIFEST, 0o644)
    (where / MANIFEST).write_text((images.library.version_dir("debian-science", 1) / MANIFEST).read_text())
    with pytest.raises(ImageError, match="the manifest is of debian-science@1, not of debian-science@2"):
        images.library.manifest("debian-science", 2)


def test_pruning_keeps_the_newest_and_whatever_is_current_rolled_back_to_or_in_use(host_images, tmp_path, say):
    images = host_images(keep=2)
    for n in range(1, 7):
        _import(images, tmp_path, say, text=str(n))
    images.publish("debian-science", 2)
    images.publish("debian-science", 3)  # current 3, a rollback goes back to 2
    removed = images.prune("debian-science", in_use={1})
    # Kept whatever keep says: 1 (in use), 2 (a rollback goes back to it), 3 (current) and 6 (the
    # newest: just built, maybe about to be published). The others go, oldest first.
    assert removed == [4, 5]
    assert images.library.versions("debian-science") == [1, 2, 3, 6]
    assert images.prune("debian-science", in_use=set()) == [1]
    assert images.library.versions("debian-science") == [2, 3, 6]
    images.publish("debian-science", 6)
    assert images.prune("debian-science", in_use=set()) == [2]  # the rollback target is 3 now


def test_deleting_is_refused_for_the_current_version_and_one_in_use(host_images, tmp_path, say) -> None:
    images = host_images()
    for n in range(1, 4):
        _import(images, tmp_path, say, text=str(n))
    images.publish("debian-science", 3)
    with pytest.raises(ImageError, match="debian-science@3 is current on this host"):
        images.delete("debian-science", 3, in_use=set())
    with pytest.raises(ImageError, match="debian-science@2 is in use by a VWN of this host"):
        images.delete("debian-science", 2, in_use={2})
    images.delete("debian-science", 1, in_use={2})
    assert images.library.versions("debian-science") == [2, 3]
    with pytest.raises(ImageError, match="debian-science@7 is not in the image library"):
        images.delete("debian-science", 7, in_use=set())


def test_a_host_without_a_library_says_how_to_get_one(tmp_path) -> None:
    from wnod_core.config.schema import ImagesSection
    from wnod_core.images import HostImages

    with pytest.raises(ImageError, match=r"set \[images\] library"):
        HostImages.of(ImagesSection())
