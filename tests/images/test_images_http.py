"""An image source over HTTP: the same layout served by any web server. Whatever it sends — a
missing file, more bytes than promised, a broken connection — no bootable version comes of it."""

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.errors import ImageError
from wnod_core.images.manifest import DISK
from wnod_core.images.seal import import_disk
from wnod_core.images.verify import sha256_of

IMAGE = "debian-science"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory and the loopback URL a web server serves it at."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def _publish_to(root: Path, host_images, tmp_path: Path, keys, versions: int = 1) -> None:
    builder = host_images("build", source=str(root), signing_key=str(keys.private))
    for n in range(1, versions + 1):
        disk = tmp_path / f"v{n}.raw"
        disk.write_bytes(f"version {n}".encode() * 3000 + b"\0" * (2 << 20))
        manifest = import_disk(builder, IMAGE, disk, lambda _line: None)
        builder.source().push(builder.library, IMAGE, manifest.version)


def test_a_host_pulls_the_newest_version_over_http_verified_and_sparse(served, host_images, tmp_path, keys):
    root, url = served
    _publish_to(root, host_images, tmp_path, keys, versions=2)
    assert json.loads((root / IMAGE / "versions.json").read_text()) == [1, 2]
    host = host_images("hv01", source=url, allowed_signers=str(keys.allowed_signers))
    assert host.source().versions(IMAGE) == [1, 2]
    manifest, copied = host.pull(IMAGE)
    assert copied and manifest.ref == f"{IMAGE}@2"
    disk = host.library.disk(IMAGE, 2)
    assert sha256_of(disk) == manifest.sha256 == sha256_of(root / IMAGE / "2" / DISK)
    assert disk.stat().st_blocks * 512 < 1 << 20  # the 2 MiB of zeros were not written


def test_a_source_sending_more_than_its_manifest_promises_is_cut_off(served, host_images, tmp_path, keys):
    root, url = served
    _publish_to(root, host_images, tmp_path, keys)
    disk = root / IMAGE / "1" / DISK
    os.chmod(disk.parent, 0o755)
    os.chmod(disk, 0o644)
    with open(disk, "ab") as f:
        f.write(b"more" * 1000)
    host = host_images("hv01", source=url, allowed_signers=str(keys.allowed_signers))
    with pytest.raises(ImageError, match=r"more than the \d+ bytes its manifest says: refused"):
        host.pull(IMAGE, 1)
    assert host.library.versions(IMAGE) == []


def test_a_version_missing_at_the_url_and_an_unreachable_source_are_named(served, host_images, tmp_path, keys):
    root, url = served
    _publish_to(root, host_images, tmp_path, keys)
    host = host_images("hv01", source=url)
    with pytest.raises(ImageError, match=f"{IMAGE}@4 is not at the image source {url}"):
        host.pull(IMAGE, 4)
    (root / IMAGE / "versions.json").write_text("{garbled")
    with pytest.raises(ImageError, match="versions.json: expected a JSON list of version numbers"):
        host.pull(IMAGE)
    gone = host_images("hv02", source="http://127.0.0.1:9/images")  # discard port: nothing listens
    with pytest.raises(ImageError, match="cannot reach the image source"):
        gone.pull(IMAGE, 1)


def test_pushing_to_a_url_is_refused_with_what_to_do(served, host_images) -> None:
    _root, url = served
    host = host_images("hv01", source=url)
    with pytest.raises(ImageError, match="push to the directory the web server serves"):
        host.source().push(host.library, IMAGE, 1)
