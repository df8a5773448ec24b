"""``wnod image update``: a new version of an image, made the seed's way — by a dedicated update VM
that mounts a copy of the parent version's disk read-write and runs the admin's script in it.

1. copy the parent's disk (sparse; a reflink where the file system can) into a staging directory;
2. make the script disk: ext4, labelled ``WNOD-UPDATE``, holding the script as ``run`` and the
   files given with it; the image's updater runs ``run`` as root, writes ``log`` and ``status``
   there and powers off (the guest contract: docs/images.md);
3. boot the update VM through the host's hypervisor backend and wait for it to power off;
4. read ``status`` and ``log`` back (debugfs: nothing is mounted on the host), check the new
   disk's file system (``e2fsck -fn``), and only on success record the version — manifest,
   digest, signature — in the library, *built*, not current anywhere until it is published.

On failure nothing of the new version is left but its log, under ``IMAGE/failed/``.
"""

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from ..commands import run
from ..errors import HypervisorError, ImageError
from ..interfaces import Hypervisor, UpdateVmSpec
from ..model import VmType
from .copying import copy_disk
from .host import HostImages
from .manifest import DISK, LOG, Manifest
from .seal import seal
from .verify import sha256_of

LABEL = "WNOD-UPDATE"
SCRIPT_DISK_SIZE = 256 << 20
"""Room for the script, the files it takes with it and its log; sparse, so it costs what is written."""
EXT_MAGIC_OFFSET, EXT_MAGIC = 1080, b"\x53\xef"


@attrs.frozen
class UpdateRequest:
    image: str
    script: Path
    vm_type: VmType
    """The VM type whose domain design (kernel, initrd, command line, memory) the update VM takes."""
    host: str
    parent: int | None = None
    """The version to start from; None: the one current on this host, else the newest here."""
    files: Sequence[Path] = ()
    """More files for the script disk, beside ``run`` (e.g. the .deb it installs)."""
    note: str = ""


def update(images: HostImages, hypervisor: Hypervisor, request: UpdateRequest,
           say: Callable[[str], None], console: Callable[[str], None]) -> Manifest:
    """Build the next version of `request.image`; its manifest. `say` gets each step, `console`
    each line the update VM prints."""
    section, library, image = images.section, images.library, request.image
    timeout = section.tool_timeout
    parent = _parent(images, request)
    script = _readable(request.script, "the update script")
    for extra in request.files:
        _readable(extra, "a file for the script disk")
        if extra.name in ("run", "log", "status"):
            raise ImageError(f"{extra}: the script disk keeps {extra.name!r} for itself; rename the file")
    say(f"checking {image}@{parent}, the parent")
    images.check(image, parent)
    source_versions = images.source().versions(image) if section.source else []
    version = library.next_version(image, source_versions)
    started = time.time()
    with library.staging(image) as staged:
        # Traversable, not listable: the hypervisor may run the guest as a user of its own
        # (libvirt's qemu user), which needs to reach the two disks it is given (mode 0600, and
        # lent to that user by libvirt for the run).
        os.chmod(staged, 0o711)
        disk = staged / DISK
        say(f"copying {image}@{parent} to make {image}@{version}")
        copy_disk(library.disk(image, parent), disk, timeout, f"{image}@{parent}")
        os.chmod(disk, 0o600)
        script_disk = staged / "script.img"
        say(f"making the script disk ({LABEL}) with {script.name} as run"
            + (f" and {', '.join(f.name for f in request.files)}" if request.files else ""))
        _make_script_disk(script_disk, script, request.files, timeout)
        name = f"wnod-update-{image}-{version}"
        say(f"booting update VM {name} (VM type {request.vm_type.name}; at most {section.update_timeout:g}s)")
        try:
            hypervisor.run_update(UpdateVmSpec(name=name, vm_type=request.vm_type, host=request.host, disk=disk,
                                               script_disk=script_disk, timeout=section.update_timeout), console)
        except HypervisorError as exc:
            # Timed out, or the guest died: what its script logged until then says why; kept.
            partial = _debugfs_cat(script_disk, "log", timeout)
            if not partial:
                raise
            kept = _keep_failed_log(images, image, version, partial)
            raise HypervisorError(f"{exc}; nothing was kept but what the script logged until then, {kept}") from exc
        say("the update VM powered off; reading its status and log")
        log = _debugfs_cat(script_disk, "log", timeout)
        status = (_debugfs_cat(script_disk, "status", timeout) or b"").decode(errors="replace").strip()
        if status != "0":
            kept = _keep_failed_log(images, image, version, log or b"")
            why = f"exited with status {status}" if status else "left no status (it did not finish)"
            raise ImageError(f"update of {image}@{parent} failed: the script {why}; nothing was kept but"
                             f" its log, {kept}")
        (staged / LOG).write_bytes(log or b"")
        script_disk.unlink()
        try:
            _check_filesystem(disk, timeout, say)
        except ImageError as exc:
            kept = _keep_failed_log(images, image, version, log or b"")
            raise ImageError(f"update of {image}@{parent} failed, nothing was kept but the script's log, {kept}:"
                             f" {exc}") from exc
        manifest = seal(images, staged, image=image, version=version, parent=parent, started=started, say=say,
                        script_sha256=sha256_of(script), log_sha256=hashlib.sha256(log or b"").hexdigest(),
                        note=request.note)
    say(f"{image}@{version} is built; not current anywhere until published (wnod image publish {image}@{version})")
    return manifest


def _parent(images: HostImages, request: UpdateRequest) -> int:
    if request.parent is not None:
        return request.parent
    current = images.rollout(request.image).current
    if current is not None:
        return current
    versions = images.library.versions(request.image)
    if not versions:
        raise ImageError(f"{request.image} has no version in the library to update: import one first"
                         f" (wnod image import {request.image} DISK)")
    return versions[-1]


def _readable(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ImageError(f"{path}: {what} is not a file")
    return path


def _make_script_disk(path: Path, script: Path, files: Sequence[Path], timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="wnod-update-") as tmp:
        root = Path(tmp)
        shutil.copyfile(script, root / "run")
        os.chmod(root / "run", 0o755)
        for extra in files:
            shutil.copyfile(extra, root / extra.name)
        with open(path, "xb") as f:
            f.truncate(SCRIPT_DISK_SIZE)
        run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", LABEL, "-E", "root_owner=0:0", "-d", str(root), str(path)],
            timeout=timeout, error=ImageError).check("could not make the script disk")


def _debugfs_cat(image: Path, name: str, timeout: float) -> bytes | None:
    """File `name` of the ext4 image's root, read without mounting it; None if it is not there."""
    listed = run(["debugfs", "-R", f"stat /{name}", str(image)], timeout=timeout, error=ImageError)
    if "File not found" in listed.stderr or listed.returncode != 0:
        return None
    out = run(["debugfs", "-R", f"cat /{name}", str(image)], timeout=timeout, error=ImageError)
    return out.stdout.encode("utf-8", errors="surrogateescape") if out.returncode == 0 else None


def _check_filesystem(disk: Path, timeout: float, say: Callable[[str], None]) -> None:
    with open(disk, "rb") as f:
        f.seek(EXT_MAGIC_OFFSET)
        if f.read(2) != EXT_MAGIC:
            say("not an ext2/3/4 file system at the start of the disk: its file system is not checked")
            return
    say("checking the new disk's file system (e2fsck -fn)")
    checked = run(["e2fsck", "-fn", str(disk)], timeout=timeout, error=ImageError)
    if checked.returncode != 0:
        raise ImageError(checked.message("the new disk's file system has errors"))


def _keep_failed_log(images: HostImages, image: str, version: int, log: bytes) -> Path:
    where = images.library.image_dir(image) / "failed"
    where.mkdir(exist_ok=True)
    path = where / f"{version}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.log"
    path.write_bytes(log)
    return path
