"""The last step of making a version, built or imported: digest its disk, write and sign its
manifest, and put it in the library under its number — whole, or not at all."""

import getpass
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ImageError
from . import signing
from .copying import copy_disk
from .host import HostImages
from .manifest import DISK, MANIFEST, Manifest
from .verify import sha256_of


def seal(images: HostImages, staged: Path, *, image: str, version: int, parent: int | None, started: float,
         say: Callable[[str], None], script_sha256: str = "", log_sha256: str = "", note: str = "") -> Manifest:
    section, library = images.section, images.library
    disk = staged / DISK
    say(f"digesting {image}@{version}")
    manifest = Manifest(
        image=image, version=version, parent=parent,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        created_by=f"{getpass.getuser()}@{socket.gethostname()}",
        size=disk.stat().st_size, sha256=sha256_of(disk), script_sha256=script_sha256, log_sha256=log_sha256,
        note=note)
    (staged / MANIFEST).write_text(manifest.to_json())
    if section.signing_key:
        say(f"signing {image}@{version} with {section.signing_key}")
        signing.sign(staged / MANIFEST, Path(section.signing_key), timeout=section.tool_timeout)
    if section.allowed_signers:
        # Signed with a key this host itself would refuse: better said now than on every host later.
        images.verifier.check(staged, (image, version), str(staged))
    with library.locked(image):
        if library.has(image, version):
            raise ImageError(f"{image}@{version} was made by another run meanwhile; run this one again")
        library.commit(staged, manifest)
    return manifest


def import_disk(images: HostImages, image: str, disk: Path, say: Callable[[str], None], note: str = "") -> Manifest:
    """A disk file made elsewhere (e.g. by contrib/e2e/build-image) as the next version of `image`."""
    if not disk.is_file():
        raise ImageError(f"{disk}: not a file")
    library = images.library
    source_versions = images.source().versions(image) if images.section.source else []
    version = library.next_version(image, source_versions)
    started = time.time()
    with library.staging(image) as staged:
        say(f"copying {disk} to make {image}@{version}")
        copy_disk(disk, staged / DISK, images.section.tool_timeout, str(disk))
        os.chmod(staged / DISK, 0o600)
        return seal(images, staged, image=image, version=version, parent=None, started=started, say=say,
                    note=note or f"imported from {disk}")
