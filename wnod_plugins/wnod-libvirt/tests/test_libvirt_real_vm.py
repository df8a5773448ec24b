"""A real guest under a real libvirtd: QEMU (TCG), a read-only base disk and a read-write scratch disk.

The guest is a Debian kernel (downloaded with ``apt-get download``, never installed) and a
busybox initramfs whose /init reports on the serial console what it sees of its disks,
writes a marker to its scratch disk and powers off. The console is logged by virtlogd
through the backend's ``console_log_dir``. The kernel and initramfs are cached in
``$WNOD_TEST_CACHE`` (default ``/var/cache/wnod-tests``).

libvirtd and virtlogd are started by this module, in the foreground, and stopped by their
PIDs; libvirtd listens on a socket of its own. The guest has no network interface.
"""

import gzip
import hashlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import libvirt
import pytest
from wnod_core.interfaces import DomainState, VwnSpec
from wnod_core.model import VmType

from wnod_libvirt.backend import LibvirtHypervisor

pytestmark = pytest.mark.slow

CACHE = Path(os.environ.get("WNOD_TEST_CACHE", "/var/cache/wnod-tests")) / "libvirt-guest"
KERNEL_META = "linux-image-cloud-amd64"
MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk")
NEEDED = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "apt-get", "apt-cache", "dpkg-deb")
BUSYBOX = Path("/bin/busybox")
BASE_MARK = b"WNOD-BASE"
BOOT_TIMEOUT = 180.0
"""Seconds a guest may take from start to power-off under TCG (measured: 5-10 s)."""

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in __MODULES__; do insmod /lib/modules/$m.ko; done
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


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root, to run libvirtd"
    absent = [tool for tool in NEEDED if shutil.which(tool) is None]
    if not BUSYBOX.exists():
        absent.append(str(BUSYBOX))
    if absent:
        return "not installed: " + ", ".join(absent) + " (see system-packages.txt)"
    autostart = Path("/etc/libvirt/qemu/networks/autostart")
    if autostart.is_dir() and any(autostart.iterdir()):
        return f"libvirtd would start the networks in {autostart}; these tests must not make bridges"
    return ""


if _missing():
    pytest.skip(_missing(), allow_module_level=True)


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(argv)} failed: {done.stderr or done.stdout}"
    return done


# -- the guest --------------------------------------------------------------------------------------


def _cpio(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """A newc cpio archive of (name, mode, data, rdev) entries: cpio itself is not installed."""
    out = io.BytesIO()

    def pad(n: int) -> None:
        out.write(b"\0" * (-n % 4))

    for ino, (name, mode, data, rdev) in enumerate([*entries, ("TRAILER!!!", 0, b"", 0)], start=1):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF, len(encoded), 0]
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.write(encoded)
        pad(110 + len(encoded))
        out.write(data)
        pad(len(data))
    return out.getvalue()


def _initramfs(modules_dir: Path) -> bytes:
    directory, regular, char = 0o040755, 0o100755, 0o020600
    entries = [(d, directory, b"", 0) for d in ("bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp")]
    entries.append(("dev/console", char, b"", (5 << 8) | 1))
    entries.append(("bin/busybox", regular, BUSYBOX.read_bytes(), 0))
    entries.append(("init", regular, INIT.replace("__MODULES__", " ".join(MODULES)).encode(), 0))
    for module in MODULES:
        found = list(modules_dir.rglob(f"{module}.ko"))
        assert len(found) == 1, f"kernel module {module}.ko: found {found}"
        entries.append((f"lib/modules/{module}.ko", 0o100644, found[0].read_bytes(), 0))
    return gzip.compress(_cpio(entries), mtime=0)


def _kernel_package() -> str:
    depends = _run(["apt-cache", "depends", KERNEL_META]).stdout
    for line in depends.splitlines():
        if line.strip().startswith("Depends: linux-image-"):
            return line.split()[-1]
    raise AssertionError(f"{KERNEL_META} depends on no kernel package:\n{depends}")


@pytest.fixture(scope="module")
def guest() -> tuple[Path, Path]:
    """(kernel, initramfs), built once per kernel version and busybox and cached."""
    package = _kernel_package()
    key = hashlib.sha256(package.encode() + BUSYBOX.read_bytes() + INIT.encode()).hexdigest()[:16]
    kernel, initrd = CACHE / f"{package}.vmlinuz", CACHE / f"wnod-guest-{key}.initrd.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(CACHE, 0o755)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        os.chmod(work, 0o755)  # apt-get download drops to user _apt where it can
        if subprocess.run(["apt-get", "download", "-q", package], cwd=work, capture_output=True, check=False).returncode:
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", "-q", package], cwd=work)
        (deb,) = Path(work).glob("*.deb")
        _run(["dpkg-deb", "-x", str(deb), f"{work}/x"])
        (vmlinuz,) = Path(work, "x", "boot").glob("vmlinuz-*")
        image = _initramfs(Path(work, "x", "lib", "modules"))
        for path, data in ((kernel, vmlinuz.read_bytes()), (initrd, image)):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.chmod(0o644)
            tmp.replace(path)
    return kernel, initrd


# -- libvirtd ---------------------------------------------------------------------------------------


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _listening(path: Path) -> bool:
    """Whether a daemon answers on the Unix socket `path` (a dead one may leave the file behind)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _fix_kvm_permissions() -> None:
    """Unless /dev/kvm is group kvm, mode 0660, libvirt probes QEMU again on every call (~48 s each)."""
    kvm = Path("/dev/kvm")
    if not kvm.exists():
        return
    import grp

    try:
        gid = grp.getgrnam("kvm").gr_gid
    except KeyError:
        return
    st = kvm.stat()
    if st.st_gid != gid or (st.st_mode & 0o777) != 0o660:
        os.chown(kvm, 0, gid)
        os.chmod(kvm, 0o660)


@pytest.fixture(scope="module")
def libvirtd() -> Iterator[str]:
    """A libvirtd of this module's own (and the virtlogd it logs consoles through); yields its URI."""
    _fix_kvm_permissions()
    run_dir = Path(tempfile.mkdtemp(prefix="wnod-libvirtd-", dir="/var/tmp"))
    conf = run_dir / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{run_dir}"\nunix_sock_rw_perms = "0700"\n')
    log = open(run_dir / "daemons.log", "wb")
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        if not _listening(Path("/run/libvirt/virtlogd-sock")):
            started.append((subprocess.Popen(["virtlogd"], stdout=log, stderr=log), "virtlogd"))
        daemon = subprocess.Popen(["libvirtd", "-f", str(conf), "-p", str(run_dir / "libvirtd.pid")],
                                  stdout=log, stderr=log)
        started.append((daemon, "libvirtd"))
        uri = f"qemu:///system?socket={run_dir}/libvirt-sock"
        deadline = time.monotonic() + 60
        while True:
            assert daemon.poll() is None, f"libvirtd exited: {(run_dir / 'daemons.log').read_text()}"
            try:
                libvirt.open(uri).close()
                break
            except libvirt.libvirtError:
                assert time.monotonic() < deadline, f"libvirtd not up: {(run_dir / 'daemons.log').read_text()}"
                time.sleep(0.1)
        yield uri
    finally:
        for process, name in reversed(started):
            _stop(process)
        log.close()
        shutil.rmtree(run_dir, ignore_errors=True)


# -- the test ---------------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[Path]:
    """Image store, scratch and console directories that QEMU (user libvirt-qemu) can reach."""
    root = Path(tempfile.mkdtemp(prefix="wnod-realvm-", dir="/var/tmp"))
    root.chmod(0o755)
    for sub in ("images", "scratch", "consoles"):
        (root / sub).mkdir(mode=0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


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
    _run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(flat)])
    try:
        return flat.read_bytes()[:11]
    finally:
        flat.unlink()


@pytest.mark.parametrize("layout", ["raw", "overlay"])
def test_a_real_guest_sees_its_base_read_only_writes_its_scratch_disk_and_is_reset_and_destroyed(
    layout: str,
    libvirtd: str,
    guest: tuple[Path, Path],
    site: Path,
    make_backend: Callable[..., LibvirtHypervisor],
) -> None:
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
