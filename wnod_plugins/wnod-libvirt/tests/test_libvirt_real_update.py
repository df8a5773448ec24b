"""``wnod image update`` through a real update VM: the core's pipeline, this backend, a real libvirtd
and a QEMU (TCG) guest.

The guest is a Debian kernel and a busybox initramfs (``wnod_libvirt.testing``) playing the
image's updater as docs/images.md defines it: it mounts the new version's disk (vda, an ext4)
read-write and the script disk (vdb, ``WNOD-UPDATE``), runs ``run`` with ``ROOT`` set to the new
root, writes ``log`` and ``status`` to the script disk and powers off. The image library lives in
a directory QEMU's user can reach, as a host's does.
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from wnod_core.config.schema import ImagesSection
from wnod_core.errors import HypervisorError, ImageError
from wnod_core.images import HostImages
from wnod_core.images.seal import import_disk
from wnod_core.images.update import UpdateRequest, update
from wnod_core.images.verify import sha256_of
from wnod_core.model import ImageSource, VmType
from wnod_core.testing.requirements import missing_commands, require

from wnod_libvirt import testing
from wnod_libvirt.backend import LibvirtHypervisor

pytestmark = pytest.mark.slow

IMAGE = "busybox-root"

UPDATER = r"""
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /new /u
if ! mount -t ext4 /dev/vda /new || ! mount -t ext4 /dev/vdb /u; then
    echo "WNOD-UPDATE cannot mount the disks"
    poweroff -f
fi
echo "WNOD-UPDATE running run"
cd /u
( ROOT=/new sh ./run; echo $? > /u/status ) 2>&1 | tee /u/log
cd /
umount /u
umount /new
sync
echo "WNOD-UPDATE done"
poweroff -f
"""
"""After ``testing.INIT_HEAD``: the image's updater, as a real image's wnod-init runs it."""

if testing.missing():
    require(testing.missing(), module=True)
require(missing_commands("mke2fs", "debugfs", "e2fsck", hint="Debian e2fsprogs: system-packages.txt"), module=True)


@pytest.fixture
def host(site: Path, libvirtd: str, make_backend) -> tuple[HostImages, LibvirtHypervisor, VmType]:
    kernel, initrd = testing.guest(UPDATER, name="wnod-updater")
    (site / "images").mkdir(mode=0o755)
    for source, name in ((kernel, "vmlinuz"), (initrd, "initrd.gz")):
        shutil.copyfile(source, site / "images" / name)
        (site / "images" / name).chmod(0o644)
    images = HostImages.of(ImagesSection(library=str(site / "library"), update_timeout=180))
    v1 = _ext4(site / "v1.raw", {"motd": "version 1\n"})
    import_disk(images, IMAGE, v1, lambda _line: None)
    backend = make_backend(uri=libvirtd, flavour="qemu", image_store=str(site / "images"),
                           scratch_dir=str(site))
    vm_type = VmType(name="busybox", image=IMAGE, image_source=ImageSource.LIBRARY, kernel="vmlinuz",
                     initrd="initrd.gz", cmdline="console=ttyS0 loglevel=3", memory="256MiB")
    return images, backend, vm_type


def _ext4(path: Path, files: dict[str, str]) -> Path:
    root = path.with_name(path.name + ".root")
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    with open(path, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-E", "root_owner=0:0",
                    "-d", str(root), str(path)], check=True)
    return path


def _read(disk: Path, name: str) -> str | None:
    out = subprocess.run(["debugfs", "-R", f"cat /{name}", str(disk)], capture_output=True, text=True)
    return None if "File not found" in out.stderr else out.stdout


def _script(site: Path, text: str) -> Path:
    path = site / "update.sh"
    path.write_text(text)
    return path


def _no_guest_left(backend: LibvirtHypervisor, uri: str) -> None:
    assert [d.name() for d in backend.host.connection().listAllDomains(0)] == [], f"a domain is left on {uri}"


def test_a_real_update_vm_runs_the_script_on_a_copy_and_the_new_version_is_sealed(
    host: tuple[HostImages, LibvirtHypervisor, VmType], site: Path, libvirtd: str
) -> None:
    images, backend, vm_type = host
    parent = images.library.manifest(IMAGE, 1)
    extra = site / "tool.txt"
    extra.write_text("a file the script takes along\n")
    script = _script(site, 'echo "installing the marker"\ncp tool.txt "$ROOT/marker"\necho "updated" >> "$ROOT/motd"\n')
    steps: list[str] = []
    console: list[str] = []
    manifest = update(images, backend, UpdateRequest(IMAGE, script, vm_type, "hv-test", files=(extra,)),
                      steps.append, console.append)

    assert manifest.ref == f"{IMAGE}@2" and manifest.parent == 1
    assert "installing the marker" in console and "WNOD-UPDATE done" in console, console
    new, old = images.library.disk(IMAGE, 2), images.library.disk(IMAGE, 1)
    assert _read(new, "marker") == "a file the script takes along\n"
    assert _read(new, "motd") == "version 1\nupdated\n"
    assert _read(old, "motd") == "version 1\n" and sha256_of(old) == parent.sha256, "the parent never changes"
    assert "installing the marker" in images.library.log(IMAGE, 2)
    assert any("checking the new disk's file system" in s for s in steps), steps
    assert images.check(IMAGE, 2) == manifest
    _no_guest_left(backend, libvirtd)


def test_a_real_script_that_fails_keeps_only_its_log(
    host: tuple[HostImages, LibvirtHypervisor, VmType], site: Path, libvirtd: str
) -> None:
    images, backend, vm_type = host
    script = _script(site, 'echo "E: Unable to locate package nope"\nexit 100\n')
    with pytest.raises(ImageError, match="the script exited with status 100"):
        update(images, backend, UpdateRequest(IMAGE, script, vm_type, "hv-test"), lambda _s: None, lambda _l: None)
    assert images.library.versions(IMAGE) == [1]
    [log] = (images.library.image_dir(IMAGE) / "failed").iterdir()
    assert "Unable to locate package nope" in log.read_text()
    _no_guest_left(backend, libvirtd)


def test_a_real_update_vm_past_its_timeout_is_destroyed_and_nothing_is_kept(
    host: tuple[HostImages, LibvirtHypervisor, VmType], site: Path, libvirtd: str
) -> None:
    images, backend, vm_type = host
    images = HostImages.of(ImagesSection(library=images.section.library, update_timeout=30))
    script = _script(site, 'echo "waiting for a mirror that never answers"\nsleep 3600\n')
    console: list[str] = []
    started = time.monotonic()
    with pytest.raises(HypervisorError, match=r"was still running after 30s \(images.update_timeout\); it was"
                       " destroyed"):
        update(images, backend, UpdateRequest(IMAGE, script, vm_type, "hv-test"), lambda _s: None, console.append)
    assert time.monotonic() - started < 120
    assert "waiting for a mirror that never answers" in console, "its output was shown while it ran"
    assert images.library.versions(IMAGE) == [1]
    _no_guest_left(backend, libvirtd)
