"""Test tools, not a product feature: a real guest and a private libvirtd, for the plugin's
real-VM test (tests/test_libvirt_real_vm.py) and the boot benchmark (bench/vwn_boot.py).

- the guest is a Debian cloud kernel (``apt-get download``, ``dpkg-deb -x``, never installed)
  and a busybox initramfs whose ``/init`` the caller writes; both are cached in
  ``$WNOD_TEST_CACHE/libvirt-guest`` (default ``/var/cache/wnod-tests``);
- libvirtd and virtlogd are started in the foreground and stopped by their PIDs, in a mount
  namespace of their own (``unshare --mount``) where libvirt's state, run, cache and log
  directories and /etc/libvirt/qemu are bind mounts of fresh directories: they neither see
  nor touch the host's libvirt state (nor that of another test or benchmark running at the
  same time), define no network, and their domains' state vanishes with them. libvirtd
  listens on a socket of its own.
"""

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import libvirt

CACHE = Path(os.environ.get("WNOD_TEST_CACHE", "/var/cache/wnod-tests")) / "libvirt-guest"
KERNEL_META = "linux-image-cloud-amd64"
MODULES = (
    "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk",
)
NEEDED = (
    "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "qemu-img",
    "apt-get", "apt-cache", "dpkg-deb", "unshare", "nsenter",
)
BUSYBOX = Path("/bin/busybox")

PRIVATE_DIRS = (
    "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", "/etc/libvirt/qemu",
)
"""Host directories the private libvirtd sees as fresh, empty directories of its own."""

INIT_HEAD = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in __MODULES__; do insmod /lib/modules/$m.ko; done
"""
"""The start of every guest's /init: busybox, /proc, /sys, /dev and the virtio disk drivers."""


def missing() -> str:
    """Why real VMs cannot run here, or "" if they can."""
    if os.geteuid() != 0:
        return "needs root, to run libvirtd"
    absent = [tool for tool in NEEDED if shutil.which(tool) is None]
    if not BUSYBOX.exists():
        absent.append(str(BUSYBOX))
    if absent:
        return "not installed: " + ", ".join(absent) + " (see wnod_plugins/wnod-libvirt/system-packages.txt)"
    return ""


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # type: ignore[call-overload]
        argv, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr or done.stdout}")
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


def _initramfs(modules_dir: Path, init: str) -> bytes:
    directory, regular, char = 0o040755, 0o100755, 0o020600
    entries = [(d, directory, b"", 0) for d in ("bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp")]
    entries.append(("dev/console", char, b"", (5 << 8) | 1))
    entries.append(("bin/busybox", regular, BUSYBOX.read_bytes(), 0))
    entries.append(("init", regular, init.encode(), 0))
    for module in MODULES:
        found = list(modules_dir.rglob(f"{module}.ko"))
        if len(found) != 1:
            raise RuntimeError(f"kernel module {module}.ko: found {found}")
        entries.append((f"lib/modules/{module}.ko", 0o100644, found[0].read_bytes(), 0))
    return gzip.compress(_cpio(entries), mtime=0)


def _kernel_package() -> str:
    depends = run(["apt-cache", "depends", KERNEL_META]).stdout
    for line in depends.splitlines():
        if line.strip().startswith("Depends: linux-image-"):
            return line.split()[-1]
    raise RuntimeError(f"{KERNEL_META} depends on no kernel package:\n{depends}")


def guest(init_body: str, name: str = "wnod-bench") -> tuple[Path, Path]:
    """(kernel, initramfs) of a guest whose /init is INIT_HEAD + `init_body`, built once and cached."""
    init = (INIT_HEAD + init_body).replace("__MODULES__", " ".join(MODULES))
    package = _kernel_package()
    key = hashlib.sha256(package.encode() + BUSYBOX.read_bytes() + init.encode()).hexdigest()[:16]
    kernel, initrd = CACHE / f"{package}.vmlinuz", CACHE / f"{name}-{key}.initrd.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(CACHE, 0o755)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        os.chmod(work, 0o755)  # apt-get download drops to user _apt where it can
        download = ["apt-get", "download", "-q", package]
        if subprocess.run(download, cwd=work, capture_output=True, check=False).returncode:
            run(["apt-get", "update", "-qq"])
            run(download, cwd=work)
        (deb,) = Path(work).glob("*.deb")
        run(["dpkg-deb", "-x", str(deb), f"{work}/x"])
        (vmlinuz,) = Path(work, "x", "boot").glob("vmlinuz-*")
        image = _initramfs(Path(work, "x", "lib", "modules"), init)
        for path, data in ((kernel, vmlinuz.read_bytes()), (initrd, image)):
            if path.exists():
                continue
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.chmod(0o644)
            tmp.replace(path)
    return kernel, initrd


# -- libvirtd ---------------------------------------------------------------------------------------


def fix_kvm_permissions() -> None:
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


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def qemu_pids(run_dir: Path) -> list[int]:
    """PIDs of the QEMU processes of the private libvirtd whose run dir is `run_dir`."""
    pids = []
    for pid_file in (run_dir / "mnt" / "run-libvirt" / "qemu").glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"qemu-system" in cmdline:
            pids.append(pid)
    return pids


def uri_of(run_dir: Path) -> str:
    """The URI of the private libvirtd whose run dir is `run_dir`."""
    return f"qemu:///system?socket={run_dir}/libvirt-sock"


def libvirtd_command(run_dir: Path) -> list[str]:
    """The command that starts a private libvirtd for `run_dir` (its socket, config and the
    fresh directories it sees in place of the host's), ready to run in the foreground.

    The host directories it mounts over are made first: on a fresh machine /run is an empty
    tmpfs and /var/lib/libvirt exists only once a libvirtd has run (no systemd-tmpfiles here),
    and ``mount --bind`` needs a mount point. Empty directories there change nothing for a
    libvirtd of the host's own."""
    fix_kvm_permissions()
    conf = run_dir / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{run_dir}"\nunix_sock_rw_perms = "0700"\n')
    mounts = []
    for target in PRIVATE_DIRS:
        Path(target).mkdir(parents=True, exist_ok=True)
        source = run_dir / "mnt" / target.strip("/").replace("/", "-")
        source.mkdir(parents=True, mode=0o755)
        source.chmod(0o755)
        mounts.append(f"mount --bind {source} {target}")
    # unshare execs sh, which execs libvirtd: the PID the caller holds is libvirtd's.
    script = " && ".join([*mounts, f'exec libvirtd -f "{conf}" -p "{run_dir}/libvirtd.pid"'])
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]


def virtlogd_command(libvirtd_pid: int, run_dir: Path) -> list[str]:
    """virtlogd in libvirtd's mount namespace, so it answers on the private /run/libvirt/virtlogd-sock."""
    return ["nsenter", f"--mount=/proc/{libvirtd_pid}/ns/mnt", "--", "virtlogd", "-p", f"{run_dir}/virtlogd.pid"]


def answers(uri: str) -> bool:
    try:
        libvirt.open(uri).close()
    except libvirt.libvirtError:
        return False
    return True


def kill_leftover_guests(run_dir: Path) -> None:
    """Kill every QEMU of the private libvirtd of `run_dir` that is left once it stopped (or that
    it could not destroy): they are ours, found by the pid files in its private run directory."""
    for pid in qemu_pids(run_dir):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


@contextmanager
def private_libvirtd(log_path: Path | None = None) -> Iterator[tuple[str, Path]]:
    """A libvirtd (and virtlogd) of our own in a mount namespace of its own; yields (URI, run dir).

    At the end every domain it still runs is destroyed, then virtlogd and libvirtd are stopped
    by their PIDs, even when the body failed."""
    run_dir = Path(tempfile.mkdtemp(prefix="wnod-libvirtd-", dir="/var/tmp"))
    log = open(log_path or run_dir / "daemons.log", "wb")
    started: list[subprocess.Popen[bytes]] = []
    uri = uri_of(run_dir)
    try:
        daemon = subprocess.Popen(libvirtd_command(run_dir), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        started.append(daemon)
        deadline = time.monotonic() + 60
        while not (run_dir / "libvirt-sock").exists():
            if daemon.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {_text(log.name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd not up after 60 s: {_text(log.name)}")
            time.sleep(0.05)
        started.append(subprocess.Popen(virtlogd_command(daemon.pid, run_dir),
                                        stdout=log, stderr=log, stdin=subprocess.DEVNULL))
        while not answers(uri):
            if daemon.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {_text(log.name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd not answering after 60 s: {_text(log.name)}")
            time.sleep(0.1)
        yield uri, run_dir
    finally:
        if started and started[0].poll() is None:
            destroy_all(uri)
        for process in reversed(started):
            stop(process)
        kill_leftover_guests(run_dir)
        log.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def destroy_all(uri: str) -> None:
    """Destroy and undefine every domain of the libvirtd at `uri`, if it answers."""
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return
    try:
        for dom in conn.listAllDomains(0):
            try:
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefine()
            except libvirt.libvirtError:
                pass
    finally:
        conn.close()


def _text(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
