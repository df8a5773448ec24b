"""An image's update VM on libvirt's test driver: what domain it is, how it is followed and ended.

The test driver's guests never power off by themselves: a test ends one by destroying it, as
the guest powering off would, and writes its console log itself, as virtlogd would.
"""

import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import DomainState, UpdateVmSpec
from wnod_core.model import VmType
from wnod_core.testing.requirements import missing_commands, require

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.config import UPDATE_NS, WNOD_NS
from wnod_libvirt.update import ConsoleTail

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("WNOD_REGENERATE_GOLDEN") == "1"
NAME = "wnod-update-el9-4"

VM = VmType(name="el9", image="alpha.img", kernel="vmlinuz", initrd="initrd.img", cmdline="console=ttyS0",
            memory="512MiB", vcpus=2, scratch_size="1GiB", cpuset="2-3")


def _spec(root: Path, timeout: float = 60.0, make: bool = True) -> UpdateVmSpec:
    disk, script = root / "staged" / "disk.raw", root / "staged" / "script.img"
    if make:
        disk.parent.mkdir(exist_ok=True)
        disk.write_bytes(b"el9 version 3, copied".ljust(1 << 20, b"\0"))
        script.write_bytes(b"\0" * (1 << 20))
    return UpdateVmSpec(name=NAME, vm_type=VM, host="hv-test", disk=disk, script_disk=script, timeout=timeout)


def _xml(domain: libvirt.virDomain) -> ET.Element:
    return ET.fromstring(domain.XMLDesc(0))


class Running:
    """``run_update`` in a thread of its own, as ``wnod image update`` runs it; its output and outcome."""

    def __init__(self, backend: LibvirtHypervisor, spec: UpdateVmSpec) -> None:
        self.lines: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(backend, spec), daemon=True)
        self.thread.start()

    def _run(self, backend: LibvirtHypervisor, spec: UpdateVmSpec) -> None:
        try:
            backend.run_update(spec, self.lines.append)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def join(self, timeout: float = 20.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run_update did not return"


def _booted(conn: libvirt.virConnect, name: str = NAME, timeout: float = 10.0) -> libvirt.virDomain:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return conn.lookupByName(name)
        except libvirt.libvirtError:
            assert time.monotonic() < deadline, f"no domain {name} came up"
            time.sleep(0.05)


@pytest.fixture
def update_backend(make_backend: Callable[..., LibvirtHypervisor]) -> Iterator[LibvirtHypervisor]:
    backend = make_backend(flavour="qemu")
    yield backend


# -- the domain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["qemu", "xen-pv"])
def test_golden_update_vm_xml(flavour: str, make_backend: Callable[..., LibvirtHypervisor]) -> None:
    backend = make_backend(flavour=flavour, image_store="/srv/wnod/images")
    spec = UpdateVmSpec(name=NAME, vm_type=VM, host="hv01", disk=Path("/var/lib/wnod/images/el9/.staging-x/disk.raw"),
                        script_disk=Path("/var/lib/wnod/images/el9/.staging-x/script.img"), timeout=60)
    text = backend.design.update_domain(spec, Path("/tmp/wnod-update-console-x/console.log")).to_text()
    golden = GOLDEN / f"update-{flavour}.xml"
    if REGENERATE:
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("flavour", ["qemu", "xen-pv"])
def test_the_update_vm_xml_is_valid_for_libvirts_schema(flavour: str) -> None:
    require(missing_commands("virt-xml-validate", "xmllint",
                             hint="Debian libvirt-clients and libxml2-utils, in system-packages.txt"))
    done = subprocess.run(["virt-xml-validate", str(GOLDEN / f"update-{flavour}.xml"), "domain"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_update_vm_has_the_new_disk_read_write_the_script_disk_and_no_network(
    update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    spec = _spec(tmp_path)
    running = Running(update_backend, spec)
    dom = _booted(test_conn)
    xml = _xml(dom)
    disks = [(d.find("source").get("file"), d.find("target").get("dev"), d.find("readonly") is not None)
             for d in xml.findall("devices/disk")]
    assert disks == [(str(spec.disk), "vda", False), (str(spec.script_disk), "vdb", False)]
    assert xml.findall("devices/interface") == [] and xml.find("{*}commandline") is None
    assert xml.findtext("os/kernel") == str(update_backend.images.path("vmlinuz"))
    assert xml.findtext("os/cmdline") == "console=ttyS0", "no batch host name: it joins no batch system"
    assert (xml.findtext("memory"), xml.findtext("vcpu")) == ("524288", "2")
    assert xml.find("vcpu").get("cpuset") is None, "not pinned like a VWN: no VWN is displaced"
    assert [xml.findtext(e) for e in ("on_poweroff", "on_reboot", "on_crash")] == ["destroy"] * 3
    assert xml.find(f"metadata/{{{WNOD_NS}}}vwn") is None
    assert xml.findtext(f"metadata/{{{UPDATE_NS}}}update/{{{UPDATE_NS}}}name") == NAME
    assert not dom.isPersistent(), "transient: nothing of it outlives its run"
    # Not a VWN: no listing, state or destroy of VWNs sees it.
    assert list(update_backend.domains()) == []
    assert update_backend.state(NAME) is DomainState.MISSING
    dom.destroy()  # the guest powers off
    running.join()
    assert running.error is None


def test_run_update_returns_when_the_guest_is_gone_and_hands_on_its_console(
    update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    running = Running(update_backend, _spec(tmp_path))
    dom = _booted(test_conn)
    log = Path(_xml(dom).find("devices/serial/log").get("file"))
    with open(log, "ab") as f:  # as virtlogd writes the guest's console
        f.write(b"WNOD-UPDATE running run\r\nSetting up wnod-marker (1.0) ...\nhalf a ")
        f.flush()
        time.sleep(0.6)
        assert running.lines == ["WNOD-UPDATE running run", "Setting up wnod-marker (1.0) ..."], "lines as they come"
        f.write(b"line\nWNOD-UPDATE status 0")
    time.sleep(0.6)
    dom.destroy()
    running.join()
    assert running.error is None
    assert running.lines == ["WNOD-UPDATE running run", "Setting up wnod-marker (1.0) ...", "half a line",
                             "WNOD-UPDATE status 0"]
    assert not log.parent.exists(), "the console log's directory goes with the run"


def test_an_update_vm_past_its_timeout_is_destroyed_and_refused(
    update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    with pytest.raises(HypervisorError, match=rf"update VM {NAME} on test:///default was still running after"
                       r" 0.5s \(images.update_timeout\); it was destroyed"):
        update_backend.run_update(_spec(tmp_path, timeout=0.5), lambda line: None)
    assert NAME not in [d.name() for d in test_conn.listAllDomains()]


def test_a_failure_while_following_it_leaves_no_domain(
    update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    # The caller's console handler fails (say, its terminal went away): the guest must not run on.
    def broken(line: str) -> None:
        raise BrokenPipeError("stdout closed")

    spec = _spec(tmp_path)
    result: list[BaseException] = []

    def run() -> None:
        try:
            update_backend.run_update(spec, broken)
        except BaseException as exc:  # noqa: BLE001
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    dom = _booted(test_conn)
    Path(_xml(dom).find("devices/serial/log").get("file")).write_bytes(b"a line\n")
    thread.join(10)
    assert [type(e) for e in result] == [BrokenPipeError]
    assert NAME not in [d.name() for d in test_conn.listAllDomains()]


def test_a_domain_of_the_same_name_is_left_alone_and_the_update_refused(
    update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    other = test_conn.createXML(
        f"<domain type='test'><name>{NAME}</name><memory>65536</memory><os><type>hvm</type></os></domain>", 0
    )
    try:
        with pytest.raises(HypervisorError, match=rf"cannot boot update VM {NAME} on test:///default: a domain of"
                           r" that name is already there .*virsh destroy"):
            update_backend.run_update(_spec(tmp_path), lambda line: None)
        assert other.isActive(), "someone else's domain (or another update's) is never touched"
    finally:
        other.destroy()


@pytest.mark.parametrize("missing", ["disk", "script_disk"])
def test_a_missing_disk_is_refused_and_nothing_boots(
    missing: str, update_backend: LibvirtHypervisor, tmp_path: Path, test_conn: libvirt.virConnect
) -> None:
    spec = _spec(tmp_path)
    getattr(spec, missing).unlink()
    with pytest.raises(HypervisorError, match=rf"cannot boot update VM {NAME} .* {getattr(spec, missing)} is not"
                       " there"):
        update_backend.run_update(spec, lambda line: None)
    assert NAME not in [d.name() for d in test_conn.listAllDomains()]


def test_a_missing_kernel_is_refused_by_name(
    update_backend: LibvirtHypervisor, tmp_path: Path, image_store: Path
) -> None:
    (image_store / "vmlinuz").unlink()
    with pytest.raises(HypervisorError, match="image 'vmlinuz' is not in the image store"):
        update_backend.run_update(_spec(tmp_path), lambda line: None)


def test_a_name_that_cannot_name_a_domain_is_refused(update_backend: LibvirtHypervisor, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(HypervisorError, match="cannot name a domain"):
        update_backend.design.update_domain(
            UpdateVmSpec(name="../x", vm_type=VM, host="h", disk=spec.disk, script_disk=spec.script_disk,
                         timeout=1), None)


# -- following a console log ----------------------------------------------------------------------


def test_a_console_tail_hands_on_whole_lines_once_and_the_rest_at_the_end(tmp_path: Path) -> None:
    log, lines = tmp_path / "console.log", []
    tail = ConsoleTail(log, lines.append)
    tail.poll()  # not there yet: virtlogd makes it when the console opens
    assert lines == []
    log.write_bytes(b"one\r\ntw")
    tail.poll()
    tail.poll()
    assert lines == ["one"]
    with open(log, "ab") as f:
        f.write(b"o\n\xff bad byte\nlast")
    tail.poll()
    assert lines == ["one", "two", "\ufffd bad byte"]
    tail.finish()
    tail.finish()
    assert lines == ["one", "two", "\ufffd bad byte", "last"]
