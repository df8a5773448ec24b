"""What a VWN is told and how it is reached: its batch host name on the kernel command line, and
QEMU user-mode networking with one port forwarded from the host's 127.0.0.1 (the one-host farm)."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.config import Domain

KERNEL_TYPE = VmType(name="alpha", image="alpha.img", kernel="vmlinuz", cmdline="console=ttyS0", network="open")


def _domain(backend: LibvirtHypervisor, vm_type: VmType = KERNEL_TYPE, hostname: str = "hv01-vwn3") -> Domain:
    spec = VwnSpec(vwn_id="hv01-s3-abcdef", vm_type=vm_type, host="hv01", hostname=hostname)
    return Domain.from_text(backend.render(spec))


def test_the_hostname_is_appended_to_the_kernel_command_line(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    assert _domain(make_backend()).os.cmdline == "console=ttyS0 wnod.hostname=hv01-vwn3"
    assert _domain(make_backend(hostname_parameter="farm.node")).os.cmdline == "console=ttyS0 farm.node=hv01-vwn3"
    assert _domain(make_backend(hostname_parameter="")).os.cmdline == "console=ttyS0"
    no_cmdline = VmType(name="alpha", image="alpha.img", kernel="vmlinuz")
    assert _domain(make_backend(), no_cmdline).os.cmdline == "wnod.hostname=hv01-vwn3"


def test_a_guest_booting_from_its_disk_gets_no_command_line(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    disk_boot = VmType(name="alpha", image="alpha.img")
    assert _domain(make_backend(), disk_boot).os.cmdline is None


def test_a_hostname_that_cannot_go_on_a_command_line_is_refused(
    make_backend: Callable[..., LibvirtHypervisor],
) -> None:
    with pytest.raises(HypervisorError, match="cannot go on a kernel command line"):
        _domain(make_backend(), hostname="a b")


def test_without_a_port_base_an_open_vwn_is_on_the_open_network(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    domain = _domain(make_backend(flavour="qemu"))
    assert domain.qemu_args == ()
    assert [i.network for i in domain.interfaces] == ["default"]


def test_an_open_vwn_gets_user_networking_with_the_port_of_its_slot(
    make_backend: Callable[..., LibvirtHypervisor],
) -> None:
    backend = make_backend(flavour="qemu", user_network_forward_port_base=6900)
    domain = _domain(backend)
    assert domain.interfaces == ()
    assert domain.qemu_args == (
        "-netdev",
        "user,id=wnodnet0,hostfwd=tcp:127.0.0.1:6903-:6903",
        "-device",
        "virtio-net-pci,netdev=wnodnet0,addr=0x1e",
    )
    assert "hostfwd=tcp:127.0.0.1:6912-:6912" in _domain(backend, hostname="hv01-vwn12").qemu_args[1]


def test_a_closed_vwn_gets_no_user_network(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    closed = VmType(name="alpha", image="alpha.img", kernel="vmlinuz", network="closed")
    domain = _domain(make_backend(flavour="qemu", user_network_forward_port_base=6900), closed)
    assert (domain.qemu_args, domain.interfaces) == ((), ())


def test_the_port_needs_a_hostname_ending_in_a_number(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    with pytest.raises(HypervisorError, match="ending in its slot number"):
        _domain(make_backend(flavour="qemu", user_network_forward_port_base=6900), hostname="hv01-vwn")
    with pytest.raises(HypervisorError, match="beyond 65535"):
        _domain(make_backend(flavour="qemu", user_network_forward_port_base=65530), hostname="vwn10")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"flavour": "xen-pv", "user_network_forward_port_base": 6900}, "needs flavour kvm or qemu"),
        ({"user_network_forward_port_base": 0}, "user_network_forward_port_base"),
        ({"hostname_parameter": "a=b"}, "hostname_parameter"),
    ],
)
def test_bad_options_are_refused(
    options: Callable[..., Any], options_table: dict[str, Any], table: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        options({**options_table, **table})


def test_the_user_network_is_defined_by_libvirt_with_validation(
    make_backend: Callable[..., LibvirtHypervisor],
) -> None:
    backend = make_backend(flavour="qemu", user_network_forward_port_base=6900)
    spec = VwnSpec(vwn_id="hv01-s3-abcdef", vm_type=KERNEL_TYPE, host="hv01", hostname="hv01-vwn3")
    backend.create(spec)
    try:
        assert backend.state("hv01-s3-abcdef").value == "running"
    finally:
        backend.destroy("hv01-s3-abcdef")
