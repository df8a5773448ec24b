"""Boot benchmark: a VWN made by wnod-libvirt vs. the same domain made by plain `virsh create`.

Both sides boot the very same domain — the XML wnod-libvirt renders for a VWN of a VM type
with a read-only base disk and a read-write scratch disk — on a private libvirtd under
QEMU/TCG, one after the other, in alternating order, N rounds:

- wnod:  ``LibvirtHypervisor.create(spec)`` (makes the scratch disk, defines the domain with
  schema validation, starts it), then ``destroy`` (stops, undefines, deletes its files);
- virsh: the scratch disk made by hand as wnod makes it (a sparse raw file, or
  ``qemu-img create`` for an overlay), then ``virsh -c URI create`` of ``render(spec)``
  written to a file (a transient domain); then ``virsh destroy`` and the files deleted.

For each boot, from the moment the create starts (t0):

- "returned": the create call (or the virsh process) returned;
- "running":  libvirt first reports the domain running (VIR_DOMAIN_RUNNING, polled every
  5 ms on a separate connection of the benchmark's own, the same observer for both sides);
- "guest up": the guest's /init — after the kernel booted, the virtio drivers loaded and
  both disks appeared — has written its line ``WNOD-BENCH up …`` to the serial console,
  and that line is in the console log file virtlogd writes on the host (polled every 5 ms).

After each boot the domain is destroyed and the benchmark checks nothing is left: no
domain, no QEMU process, no scratch disk, no console log. Printed: every boot, then the
medians and the wnod/virsh ratios.

    .venv/bin/python bench/vwn_boot.py                     # 5 rounds, raw scratch disk
    .venv/bin/python bench/vwn_boot.py --layout overlay    # qcow2 overlay over the base
    .venv/bin/python bench/vwn_boot.py --rounds 1 --warmup 0   # a quick look

Needs root and the packages of wnod_plugins/wnod-libvirt/system-packages.txt; the guest
kernel is fetched once with ``apt-get download`` and cached (see wnod_libvirt.testing).
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import libvirt
from wnod_libvirt import plugin
from wnod_libvirt import testing as realvm
from wnod_libvirt.backend import LibvirtHypervisor

from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType
from wnod_core.plugins import Plugins
from wnod_core.testing import build_plugin

MARKER = "WNOD-BENCH up"
GUEST_INIT = r"""
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
echo "WNOD-BENCH up vda-ro=$(cat /sys/block/vda/ro) vdb-ro=$(cat /sys/block/vdb/ro)"
# Stay up, as a worker node would, until destroyed; power off by itself should the benchmark die.
sleep 300
poweroff -f
"""
POLL = 0.005
BOOT_TIMEOUT = 300.0
METHODS = ("wnod", "virsh")
COLUMNS = ("returned", "running", "guest up", "destroy")


@dataclass
class Boot:
    method: str
    round: int
    returned: float = 0.0
    running: float = 0.0
    up: float = 0.0
    destroy: float = 0.0
    line: str = ""


@dataclass
class Watch:
    """Polls, from its own thread, when domain `name` is first running and when the marker is logged."""

    conn: libvirt.virConnect
    name: str
    log: Path
    running: float | None = None
    up: float | None = None
    line: str = ""
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        dom = None
        try:
            while not self._stop.is_set() and (self.running is None or self.up is None):
                now = time.perf_counter()
                if self.running is None:
                    if dom is None:
                        try:
                            dom = self.conn.lookupByName(self.name)
                        except libvirt.libvirtError:
                            pass
                    if dom is not None and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
                        self.running = now
                if self.up is None:
                    try:
                        text = self.log.read_text(errors="replace")
                    except FileNotFoundError:
                        text = ""
                    at = text.find(MARKER)
                    if at >= 0 and "\n" in text[at:]:
                        self.up = now
                        self.line = text[at:].split("\n", 1)[0].strip()
                time.sleep(POLL)
        except BaseException as exc:  # reported by wait()
            self.error = exc

    def wait(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise self.error
        if self.running is None or self.up is None:
            console = self.log.read_text(errors="replace") if self.log.exists() else "(no console log)"
            raise RuntimeError(
                f"{self.name}: not up after {timeout:g} s (running at {self.running}):\n{console}"
            )


class Bench:
    def __init__(self, uri: str, run_dir: Path, site: Path, layout: str) -> None:
        self.uri, self.run_dir, self.site, self.layout = uri, run_dir, site, layout
        self.images, self.scratch, self.consoles = site / "images", site / "scratch", site / "consoles"
        loaded = Plugins.load(installed=False, extra=[("wnod-libvirt", plugin)])
        record = loaded.lookup("hypervisors", "libvirt")
        table = {
            "uri": uri,
            "flavour": "qemu",
            "image_store": str(self.images),
            "scratch_dir": str(self.scratch),
            "console_log_dir": str(self.consoles),
        }
        # Built as the core builds it: through the plugin record and its options structuring.
        self.backend: LibvirtHypervisor = build_plugin(
            record, table, {}, site / "wnod", path="hypervisor.libvirt"
        )
        self.vm_type = VmType(
            name="busybox",
            image="base.img",
            kernel="vmlinuz",
            initrd="initrd.gz",
            cmdline="console=ttyS0 loglevel=3",
            memory="256MiB",
            scratch_size="1GiB",
            scratch_layout=layout,
            image_version="bench",
        )
        self.observer = libvirt.open(uri)
        self.backend.state("bench-warm-connection")  # the daemon's connection is open long before a create

    def close(self) -> None:
        self.backend.close()
        self.observer.close()

    def spec(self, method: str, round_: int) -> VwnSpec:
        vwn_id = f"bench-{method}-{round_}" if round_ >= 0 else f"bench-{method}-warmup{-round_}"
        return VwnSpec(vwn_id=vwn_id, vm_type=self.vm_type, host="bench-hv", hostname=vwn_id)

    def boot(self, method: str, round_: int) -> Boot:
        spec = self.spec(method, round_)
        name = spec.vwn_id
        log = self.consoles / f"{name}.console.log"
        result = Boot(method, round_)
        xml = self.site / f"{name}.xml"
        if method == "virsh":
            xml.write_text(self.backend.render(spec))  # rendered before the clock starts
        watch = Watch(self.observer, name, log)
        watch.start()
        t0 = time.perf_counter()
        try:
            if method == "wnod":
                self.backend.create(spec)
            else:
                self._make_scratch_by_hand(name)
                realvm.run(["virsh", "-q", "-c", self.uri, "create", str(xml)])
            result.returned = time.perf_counter() - t0
            watch.wait(BOOT_TIMEOUT)
            assert watch.running is not None and watch.up is not None
            result.running, result.up, result.line = watch.running - t0, watch.up - t0, watch.line
        finally:
            t1 = time.perf_counter()
            self._destroy(method, name)
            result.destroy = time.perf_counter() - t1
            xml.unlink(missing_ok=True)
        self._check_nothing_left(name)
        if "vda-ro=1 vdb-ro=0" not in result.line:
            raise RuntimeError(f"{name}: the guest saw no read-only base and writable scratch: {result.line}")
        return result

    def _make_scratch_by_hand(self, name: str) -> None:
        """The scratch disk as wnod makes it, with the plain tools: a domain cannot start without it."""
        size = int(self.vm_type.scratch_size)
        if self.layout == "overlay":
            base = self.images / "base.img"
            size = max(size, base.stat().st_size)
            path = self.scratch / f"{name}.scratch.qcow2"
            realvm.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(path), f"{size}"]
            )
        else:
            path = self.scratch / f"{name}.scratch.raw"
            with open(path, "xb") as f:
                f.truncate(size)
        os.chmod(path, 0o600)

    def _destroy(self, method: str, name: str) -> None:
        if method == "wnod":
            self.backend.destroy(name)
            return
        try:
            dom = self.observer.lookupByName(name)
        except libvirt.libvirtError:
            dom = None
        if dom is not None:
            realvm.run(["virsh", "-q", "-c", self.uri, "destroy", name])
        for path in (*self.scratch.glob(f"{name}.scratch.*"), self.consoles / f"{name}.console.log"):
            path.unlink(missing_ok=True)

    def _check_nothing_left(self, name: str) -> None:
        left = [f"domain {d.name()}" for d in self.observer.listAllDomains(0)]
        left += [f"QEMU process {pid}" for pid in realvm.qemu_pids(self.run_dir)]
        left += [str(p) for p in (*self.scratch.iterdir(), *self.consoles.iterdir())]
        if left:
            raise RuntimeError(f"after destroying {name}, left behind: {', '.join(left)}")


def table(boots: list[Boot]) -> None:
    def column(method: str, attr: str) -> list[float]:
        return [getattr(b, attr) for b in boots if b.method == method]

    attrs = ("returned", "running", "up", "destroy")
    medians = {m: [statistics.median(column(m, a)) for a in attrs] for m in METHODS}
    print()
    print(f"medians over {len(column('wnod', 'up'))} rounds (seconds from the start of the create)")
    print(f"{'':<12}" + "".join(f"{c:>12}" for c in COLUMNS))
    for method in METHODS:
        print(f"{method:<12}" + "".join(f"{v:>12.3f}" for v in medians[method]))
    pairs = list(zip(medians["wnod"], medians["virsh"], strict=True))
    print(f"{'wnod/virsh':<12}" + "".join(f"{w / v:>12.2f}" for w, v in pairs))
    print(f"{'wnod-virsh':<12}" + "".join(f"{w - v:>+12.3f}" for w, v in pairs))
    for method in METHODS:
        ups = column(method, "up")
        print(f"{method} guest up: min {min(ups):.3f} s, max {max(ups):.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed boots of each side (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed boots of each side first (default 1)")
    parser.add_argument(
        "--layout", choices=("raw", "overlay"), default="raw", help="the scratch_layout (default raw)"
    )
    args = parser.parse_args()
    # Killed politely, still destroy the guests and stop the daemons (the finally blocks below).
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(143))
    why = realvm.missing()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    kernel, initrd = realvm.guest(GUEST_INIT, name="wnod-bench-boot")
    site = Path(tempfile.mkdtemp(prefix="wnod-bench-site-", dir="/var/tmp"))
    try:
        site.chmod(0o755)  # QEMU runs as libvirt-qemu
        for sub in ("images", "scratch", "consoles"):
            (site / sub).mkdir(mode=0o755)
        images = site / "images"
        for source, name in ((kernel, "vmlinuz"), (initrd, "initrd.gz")):
            (images / name).write_bytes(source.read_bytes())
        (images / "base.img").write_bytes(b"WNOD-BASE" + bytes(64 * 1024 * 1024 - 9))
        for path in images.iterdir():
            path.chmod(0o644)
        with realvm.private_libvirtd() as (uri, run_dir):
            bench = Bench(uri, run_dir, site, args.layout)
            try:
                version = ["qemu-system-x86_64", "--version"]
                qemu = subprocess.run(version, capture_output=True, text=True, check=False).stdout
                lib = bench.observer.getLibVersion()
                print(f"libvirt {lib // 1000000}.{lib // 1000 % 1000}.{lib % 1000}, {qemu.splitlines()[0]},"
                      f" {os.cpu_count()} CPUs; domain type qemu (TCG), 1 vCPU, 256 MiB,"
                      f" scratch_layout {args.layout}; kernel {kernel.name}")
                for w in range(args.warmup):
                    for method in METHODS:
                        bench.boot(method, -1 - w)
                boots: list[Boot] = []
                print(f"{'round':>5} {'side':<6}" + "".join(f"{c:>10}" for c in COLUMNS) + "  guest said")
                for r in range(args.rounds):
                    for method in METHODS if r % 2 == 0 else reversed(METHODS):
                        b = bench.boot(method, r)
                        boots.append(b)
                        print(f"{r:>5} {method:<6}{b.returned:>10.3f}{b.running:>10.3f}{b.up:>10.3f}"
                              f"{b.destroy:>10.3f}  {b.line}", flush=True)
                table(boots)
            finally:
                bench.close()
    finally:
        shutil.rmtree(site, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
