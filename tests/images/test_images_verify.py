"""Distribution, verified: a host copies a version from the image source and lets no VWN near it
unless its disk is the one its manifest describes and, where required, a trusted key signed that."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wnod_core.errors import ImageError
from wnod_core.images.manifest import DISK, MANIFEST, SIGNATURE
from wnod_core.images.seal import import_disk
from wnod_core.images.verify import sha256_of

IMAGE = "debian-science"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return tmp_path / "source"


def _build_and_push(host_images, source, tmp_path, keys, text="v1", **more):
    """The build host: imports a disk as the next version, signs it, pushes it to the source."""
    builder = host_images("build", source=str(source), signing_key=str(keys.private) if keys else "", **more)
    disk = tmp_path / f"{text}.raw"
    disk.write_bytes(text.encode() * 4096 + b"\0" * (1 << 20))
    manifest = import_disk(builder, IMAGE, disk, lambda _line: None)
    builder.source().push(builder.library, IMAGE, manifest.version)
    return manifest


def _writable(path: Path) -> None:
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


def test_a_signed_version_is_pulled_verified_and_bootable(host_images, source, tmp_path, keys) -> None:
    built = _build_and_push(host_images, source, tmp_path, keys)
    assert (source / IMAGE / "1" / SIGNATURE).is_file()
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    manifest, copied = host.pull(IMAGE, 1)
    assert copied and manifest == built
    disk = host.library.disk(IMAGE, 1)
    assert sha256_of(disk) == built.sha256
    # The copy stays sparse: the megabyte of zeros costs nothing.
    assert disk.stat().st_blocks * 512 < 512 * 1024
    assert host.pull(IMAGE, 1) == (built, False)  # already here: not copied again
    assert host.check(IMAGE, 1) == built


def test_a_disk_changed_after_signing_is_refused_and_never_enters_the_library(
        host_images, source, tmp_path, keys) -> None:
    _build_and_push(host_images, source, tmp_path, keys)
    served = source / IMAGE / "1" / DISK
    _writable(served)
    with open(served, "r+b") as f:  # one byte
        f.seek(100)
        f.write(b"X")
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match=r"disk.raw does not match its manifest .*signed by builder@farm.test.*refused"):
        host.pull(IMAGE, 1)
    assert host.library.versions(IMAGE) == []
    assert [p.name for p in host.library.image_dir(IMAGE).iterdir() if not p.name.startswith(".lock")] == []


def test_a_manifest_changed_to_match_a_changed_disk_fails_its_signature(host_images, source, tmp_path, keys):
    _build_and_push(host_images, source, tmp_path, keys)
    served = source / IMAGE / "1"
    _writable(served / DISK)
    served.joinpath(DISK).write_bytes(b"evil" * 4096)
    _writable(served / MANIFEST)
    text = served.joinpath(MANIFEST).read_text()
    import json
    data = json.loads(text)
    data.update(sha256=sha256_of(served / DISK), size=4 * 4096)
    served.joinpath(MANIFEST).write_text(json.dumps(data))
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match="bad signature, the manifest is not what builder@farm.test signed"):
        host.pull(IMAGE, 1)
    assert host.library.versions(IMAGE) == []
    # Without signatures required, the same forgery would pass: the digest alone proves only consistency.
    unsigned = host_images("hv02", source=str(source))
    assert unsigned.pull(IMAGE, 1)[1] is True


def test_an_unsigned_version_is_refused_where_signatures_are_required(host_images, source, tmp_path, keys):
    _build_and_push(host_images, source, tmp_path, keys=None)
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match="not signed .*requires a signature"):
        host.pull(IMAGE, 1)
    assert host.library.versions(IMAGE) == []


def test_a_version_signed_by_a_key_nobody_allows_is_refused(host_images, source, tmp_path, keys, stranger):
    _build_and_push(host_images, source, tmp_path, stranger)
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match="its signature is by nobody .* allows"):
        host.pull(IMAGE, 1)


def test_a_signature_for_another_purpose_does_not_pass_as_an_images(host_images, source, tmp_path, keys):
    """A signature the same key made in another namespace (e.g. of a file) is not an image's."""
    _build_and_push(host_images, source, tmp_path, keys=None)
    manifest = source / IMAGE / "1" / MANIFEST
    _writable(manifest)
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(keys.private), "-n", "file", str(manifest)],
                   check=True)
    host = host_images("hv01", source=str(source), allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match="signature is by nobody|bad signature"):
        host.pull(IMAGE, 1)


def test_a_build_host_whose_own_key_it_would_refuse_says_so_at_once(host_images, tmp_path, keys, stranger):
    builder = host_images("build", signing_key=str(stranger.private), allowed_signers=str(keys.allowed_signers))
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"x" * 100)
    with pytest.raises(ImageError, match="its signature is by nobody"):
        import_disk(builder, IMAGE, disk, lambda _line: None)
    assert builder.library.versions(IMAGE) == []


def test_a_version_the_source_lacks_is_named(host_images, source, tmp_path, keys) -> None:
    _build_and_push(host_images, source, tmp_path, keys)
    host = host_images("hv01", source=str(source))
    with pytest.raises(ImageError, match=f"{IMAGE}@5 is not at the image source {source}"):
        host.pull(IMAGE, 5)
    with pytest.raises(ImageError, match="has no version of other"):
        host.pull("other")


def test_two_hosts_processes_pulling_one_version_at_once_copy_it_once(host_images, source, tmp_path, keys):
    _build_and_push(host_images, source, tmp_path, keys)
    library = tmp_path / "hv01" / "images"
    code = (
        "import sys\n"
        "from wnod_core.config.schema import ImagesSection\n"
        "from wnod_core.images import HostImages\n"
        f"h = HostImages.of(ImagesSection(library={str(library)!r}, source={str(source)!r},"
        f" allowed_signers={str(keys.allowed_signers)!r}))\n"
        "print(h.pull('debian-science', 1)[1])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    said = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0] * 4
    assert said == ["False", "False", "False", "True"]
    assert host_images("hv01").library.versions(IMAGE) == [1]
