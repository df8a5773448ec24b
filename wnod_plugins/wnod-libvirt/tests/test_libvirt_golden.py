"""The domain XML of each flavour, against reviewed golden files, libvirt's schema and libvirt itself.

After an intended change, regenerate the files and review their diff:
``WNOD_REGENERATE_GOLDEN=1 pytest wnod_plugins/wnod-libvirt -k golden``.
"""

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs
import libvirt
import pytest
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType
from wnod_core.testing.requirements import missing_commands, require

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.config import Domain

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("WNOD_REGENERATE_GOLDEN") == "1"
# Fixed paths: render creates nothing and reads no file, so the XML depends on these alone.
STORE, SCRATCH, CONSOLES = "/srv/wnod/images", "/srv/wnod/scratch", "/var/log/wnod/consoles"
LIBRARY_DISK = Path("/var/lib/wnod/images/el9/3/disk.raw")
"""The disk the host's image library gives VWNs of version 3 of image el9 (spec.image_disk)."""

EL9 = VmType(
    name="el9",
    image="el9-2024.06.img",
    kernel="vmlinuz-6.1",
    initrd="initrd-6.1.img",
    vcpus=4,
    memory="8GiB",
    scratch_size="40GiB",
    cpuset="4-7",
    image_version="2024.06",
)

def _vm_type(**changes: object) -> VmType:
    return attrs.evolve(EL9, **changes)


CASES: dict[str, tuple[dict[str, object], VmType]] = {
    # Xen PV, direct kernel boot, raw scratch, closed with no interface, pinned.
    "xen-pv": ({"flavour": "xen-pv"}, _vm_type(cmdline="root=/dev/xvda ro console=hvc0")),
    # Xen PV booting through pygrub, qcow2 overlay, open network, not pinned.
    "xen-pv-pygrub": (
        {"flavour": "xen-pv"},
        _vm_type(kernel=None, initrd=None, cpuset=None, scratch_layout="overlay", network="open"),
    ),
    # KVM, direct kernel boot, overlay, open network, console logged.
    "kvm": (
        {"flavour": "kvm", "console_log_dir": CONSOLES},
        _vm_type(cmdline="root=/dev/vda ro console=ttyS0", scratch_layout="overlay", network="open"),
    ),
    # KVM booting from its read-only disk, closed on a filtered network.
    "kvm-disk-boot": (
        {"flavour": "kvm", "closed_network": "wnod-batch", "closed_filter": "wnod-batch-only"},
        _vm_type(kernel=None, initrd=None, cpuset=None),
    ),
    # QEMU (TCG), direct kernel boot without an initrd, raw scratch, closed with no interface.
    "qemu": ({"flavour": "qemu"}, _vm_type(initrd=None, vcpus=1, memory="512MiB", cmdline="console=ttyS0")),
    # QEMU (TCG), open on QEMU's user-mode network with a port forward (the one-host farm).
    "qemu-user-network": (
        {"flavour": "qemu", "user_network_forward_port_base": 6900},
        _vm_type(cpuset=None, vcpus=1, memory="768MiB", cmdline="console=ttyS0", network="open"),
    ),
    # KVM on a version of a library image: its base is the library's disk, not an image store file.
    "kvm-library": (
        {"flavour": "kvm"},
        _vm_type(image="el9", image_source="library", image_version="3", cmdline="root=/dev/vda ro"),
    ),
}


@pytest.fixture
def render_case(make_backend: Callable[..., LibvirtHypervisor]) -> Callable[[str], str]:
    def render(case: str) -> str:
        table, vm_type = CASES[case]
        backend = make_backend(image_store=STORE, scratch_dir=SCRATCH, **table)
        disk = LIBRARY_DISK if vm_type.image_source == "library" else None
        spec = VwnSpec(vwn_id=f"wnod-hv01-{case}-7", vm_type=vm_type, host="hv01", hostname=f"vwn-{case}-7",
                       image_disk=disk)
        return backend.render(spec)

    return render


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_xml(case: str, render_case: Callable[[str], str]) -> None:
    text = render_case(case)
    golden = GOLDEN / f"{case}.xml"
    if REGENERATE:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; make it with WNOD_REGENERATE_GOLDEN=1 and review it"
    assert text == golden.read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_xml_parses_back_to_what_was_rendered(case: str) -> None:
    text = (GOLDEN / f"{case}.xml").read_text()
    domain = Domain.from_text(text)
    assert domain.to_text() == text
    assert domain.name == f"wnod-hv01-{case}-7" == domain.identity.vwn_id


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_xml_is_valid_for_libvirts_schema(case: str) -> None:
    require(missing_commands("virt-xml-validate", "xmllint",
                             hint="Debian libvirt-clients and libxml2-utils, in system-packages.txt"))
    done = subprocess.run(
        ["virt-xml-validate", str(GOLDEN / f"{case}.xml"), "domain"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_xml_is_accepted_by_libvirt_with_validation(case: str, test_conn: libvirt.virConnect) -> None:
    text = (GOLDEN / f"{case}.xml").read_text()
    dom = test_conn.defineXMLFlags(text, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        back = Domain.from_text(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    finally:
        dom.undefine()
    rendered = Domain.from_text(text)
    # libvirt adds what it defaults (arch, a console for the serial port, ...); what wnod wrote stays.
    assert back.identity == rendered.identity
    assert back.disks == rendered.disks
    assert back.interfaces == rendered.interfaces
    assert (back.os.kernel, back.os.initrd, back.os.cmdline) == (
        rendered.os.kernel,
        rendered.os.initrd,
        rendered.os.cmdline,
    )
    assert (back.memory_kib, back.vcpus, back.cpuset) == (rendered.memory_kib, rendered.vcpus, rendered.cpuset)
