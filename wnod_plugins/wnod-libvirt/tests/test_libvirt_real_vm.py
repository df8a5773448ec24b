"""A real guest under a real libvirtd: QEMU (TCG), a read-only base disk and a read-write scratch disk.

The guest is a Debian kernel and a busybox initramfs (``wnod_libvirt.testing``, cached in
``$WNOD_TEST_CACHE``) whose /init reports on the serial console what it sees of its disks,
writes a marker to its scratch disk and powers off. The console is logged by virtlogd
through the backend's ``console_log_dir``. libvirtd and virtlogd are private to this module
(own socket, own mount namespace) and stopped by their PIDs. The guest has no network interface.
"""

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from wnod_core.interfaces import DomainState, VwnSpec
from wnod_core.model import VmType
from wnod_core.testing.requirements import require

from wnod_libvirt import testing
from wnod_libvirt.backend import LibvirtHypervisor

pytestmark = pytest.mark.slow

BASE_MARK = b"WNOD-BASE"
BOOT_TIMEOUT = 180.0
"""Seconds a guest may take from start to power-off under TCG (measured: 5-10 s)."""

INIT_BODY = r"""
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
echo "WNOD-GUEST vda-ro=$(cat /sys/block/vda/ro) vdb-ro=$(cat /sys/block/vdb/ro)"
echo "WNOD-GUEST nics=$(ls /sys/class/net | tr '\n' ' ')"
echo "WNOD-GUEST base=$(head -c 9 /dev/vda)"
if printf x | dd of=/dev/vda bs=1 count=1 conv=notrunc 2>/dev/null; then
    echo "WNOD-GUEST vda-write=accepted"
else
    echo "WNOD-GUEST vda-write=refused"
fi
echo "WNOD-GUEST scratch-before=$(head -c 11 /dev/vdb | tr -c 'A-Za-z0-9-' '.')"
if printf 'WNOD-MARKER' | dd of=/dev/vdb conv=notrunc,fsync 2>/dev/null; then
    echo "WNOD-GUEST vdb-write=ok"
else
    echo "WNOD-GUEST vdb-write=failed"
fi
sync
echo "WNOD-GUEST done"
poweroff -f
"""
"""After ``testing.INIT_HEAD``: report on the disks, write the marker, power off."""

if testing.missing():
    require(testing.missing(), module=True)


@pytest.fixture(scope="module")
def guest() -> tuple[Path, Path]:
    return testing.guest(INIT_BODY, name="wnod-realvm")


@pytest.fixture
def dirs(site: Path) -> Path:
    """Image store, scratch and console directories under the site."""
    for sub in ("images", "scratch", "consoles"):
        (site / sub).mkdir(mode=0o755)
    return site


def _until_off(backend: LibvirtHypervisor, vwn_id: str, log: Path) -> str:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while backend.state(vwn_id) is DomainState.RUNNING:
        assert time.monotonic() < deadline, f"guest still running after {BOOT_TIMEOUT:g}s:\n{_read(log)}"
        time.sleep(0.2)
    assert backend.state(vwn_id) is DomainState.SHUTOFF
    text = _read(log)
    assert "WNOD-GUEST done" in text, text
    return text


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else "(no console log)"


def _scratch_start(path: Path, overlay: bool, tmp: Path) -> bytes:
    if not overlay:
        return path.read_bytes()[:11]
    flat = tmp / "flat.raw"
    testing.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(flat)])
    try:
        return flat.read_bytes()[:11]
    finally:
        flat.unlink()


@pytest.mark.parametrize("layout", ["raw", "overlay"])
def test_a_real_guest_sees_its_base_read_only_writes_its_scratch_disk_and_is_reset_and_destroyed(
    layout: str,
    libvirtd: str,
    guest: tuple[Path, Path],
    dirs: Path,
    make_backend: Callable[..., LibvirtHypervisor],
) -> None:
    site = dirs
    images, scratch, consoles = site / "images", site / "scratch", site / "consoles"
    kernel, initrd = guest
    shutil.copyfile(kernel, images / "vmlinuz")
    shutil.copyfile(initrd, images / "initrd.gz")
    base = images / "base.img"
    base.write_bytes(BASE_MARK + bytes(1024 * 1024 - len(BASE_MARK)))
    base_digest = hashlib.sha256(base.read_bytes()).hexdigest()
    for path in images.iterdir():
        path.chmod(0o644)

    backend = make_backend(
        uri=libvirtd,
        flavour="qemu",
        image_store=str(images),
        scratch_dir=str(scratch),
        console_log_dir=str(consoles),
    )
    vm_type = VmType(
        name="busybox",
        image="base.img",
        kernel="vmlinuz",
        initrd="initrd.gz",
        cmdline="console=ttyS0 loglevel=3",
        memory="256MiB",
        scratch_size="16MiB",
        scratch_layout=layout,
        image_version="test",
    )
    spec = VwnSpec(vwn_id=f"wnod-realvm-{layout}", vm_type=vm_type, host="hv-test", hostname="vwn-realvm")
    overlay = layout == "overlay"
    disk = scratch / f"{spec.vwn_id}.scratch.{'qcow2' if overlay else 'raw'}"
    log = consoles / f"{spec.vwn_id}.console.log"
    try:
        backend.create(spec)
        first = _until_off(backend, spec.vwn_id, log)
        assert "WNOD-GUEST vda-ro=1 vdb-ro=0" in first
        assert "WNOD-GUEST nics=lo \n" in first, "a closed VWN without closed_network has no interface"
        assert "WNOD-GUEST base=WNOD-BASE" in first
        assert "WNOD-GUEST vda-write=refused" in first
        # A fresh raw disk is empty; an overlay shows the base through until written.
        assert ("WNOD-GUEST scratch-before=WNOD-BASE.." if overlay else "scratch-before=...........") in first
        assert "WNOD-GUEST vdb-write=ok" in first
        assert _scratch_start(disk, overlay, site) == b"WNOD-MARKER"
        assert hashlib.sha256(base.read_bytes()).hexdigest() == base_digest

        backend.reset_scratch(spec.vwn_id)
        second = _until_off(backend, spec.vwn_id, log)
        assert ("WNOD-GUEST scratch-before=WNOD-BASE.." if overlay else "scratch-before=...........") in second
        assert hashlib.sha256(base.read_bytes()).hexdigest() == base_digest

        backend.destroy(spec.vwn_id)
        assert backend.state(spec.vwn_id) is DomainState.MISSING
        assert list(scratch.iterdir()) == []
        assert list(consoles.iterdir()) == []
        assert sorted(p.name for p in images.iterdir()) == ["base.img", "initrd.gz", "vmlinuz"]
    finally:
        backend.destroy(spec.vwn_id)
