"""`[hypervisor.libvirt]`: the options a site sets for this backend."""

import enum
import re

import attrs
from wnod_core.config.checks import absolute_path, optional_absolute_path
from wnod_core.model.fields import documented
from wnod_core.model.units import Seconds, parse_duration


class Flavour(enum.StrEnum):
    """Which kind of domain a VWN becomes."""

    XEN_PV = "xen-pv"
    """A Xen paravirtualised guest: `<domain type='xen'>`, disks xvda/xvdb on bus xen."""
    KVM = "kvm"
    """A KVM guest: virtio disks vda/vdb, the host's CPU passed through."""
    QEMU = "qemu"
    """The same guest as "kvm", emulated by QEMU (TCG): for hosts without usable KVM, and tests."""


_NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def _optional_name(_inst: object, attr: attrs.Attribute, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _NETWORK_NAME.match(value)):
        raise ValueError(f"expected a libvirt object name (letters, digits, '.', '_', '-'), got {value!r}")


def _check_parameter(value: object) -> None:
    if not isinstance(value, str) or (value and not _PARAMETER.match(value)):
        raise ValueError(
            f"expected a kernel parameter name (letters, digits, '.', '_', '-') or \"\", got {value!r}"
        )


_PARAMETER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@attrs.frozen
class LibvirtOptions:
    """`[hypervisor.libvirt]`."""

    image_store: str = documented(
        "Absolute directory holding the VM types' read-only base images, kernels and initrds. An"
        " image name resolves to a file directly in it; a name (or symlink) leading outside is refused.",
        validator=absolute_path,
    )
    scratch_dir: str = documented(
        "Absolute directory where each VWN's read-write scratch disk is made"
        " (`<VWN id>.scratch.raw` or `.scratch.qcow2`), and deleted when the VWN is destroyed.",
        validator=absolute_path,
    )
    uri: str = documented(
        'The libvirt connection URI, e.g. "qemu:///system", "xen:///system", or "test:///default"'
        " (libvirt's in-process test driver, which runs nothing).",
        default="qemu:///system",
    )
    flavour: Flavour = documented(
        '"xen-pv": Xen paravirtualised guests (disks xvda/xvdb); "kvm": KVM guests (virtio disks'
        ' vda/vdb, host CPU passed through); "qemu": the same, emulated (TCG), where KVM is not usable.',
        default=Flavour.KVM,
        converter=Flavour,
    )
    open_network: str = documented(
        'The libvirt network a VWN of a VM type with `network = "open"` is plugged into.',
        default="default",
        validator=_optional_name,
    )
    closed_network: str | None = documented(
        'The libvirt network a VWN of a VM type with `network = "closed"` is plugged into, with'
        " `closed_filter` on its interface. Unset, such a VWN gets no network interface at all.",
        default=None,
        validator=_optional_name,
    )
    closed_filter: str | None = documented(
        "The libvirt nwfilter on a closed VWN's interface: the site's rules that let it reach its batch"
        " system and nothing else. Required with `closed_network`. KVM and QEMU only: libvirt's Xen"
        " driver applies no nwfilter, so with xen-pv both are refused.",
        default=None,
        validator=_optional_name,
    )
    bootloader: str = documented(
        'Xen PV only: the bootloader of VM types without `kernel`, e.g. "pygrub" (libxl finds it'
        " in its own directory) or an absolute path.",
        default="pygrub",
    )
    console_log_dir: str | None = documented(
        "KVM and QEMU only: an absolute directory where each VWN's serial console is logged"
        " (`<VWN id>.console.log`, written by virtlogd and deleted with the VWN). Unset, not logged.",
        default=None,
        validator=optional_absolute_path,
    )
    hostname_parameter: str = documented(
        "With direct kernel boot: the kernel command-line parameter that passes each VWN its batch"
        ' host name, appended to the VM type\'s `cmdline` as `<parameter>=<hostname>` (e.g.'
        " `wnod.hostname=hv01-vwn3`), so one image serves every slot. Empty: nothing is appended.",
        default="wnod.hostname",
        validator=lambda _i, _a, v: _check_parameter(v),
    )
    user_network_forward_port_base: int | None = documented(
        "KVM and QEMU only. Set, a VWN whose VM type has `network = \"open\"` gets QEMU user-mode"
        " networking (no bridge, no libvirt network: the guest reaches the host's 127.0.0.1 as"
        " 10.0.2.2) instead of `open_network`, with one TCP port forwarded from the host's"
        " 127.0.0.1 to the same port in the guest: `base + N`, N the number ending the VWN's batch"
        " host name (its slot with the default `engine.vwn_hostname`). The batch system reaches the"
        " VWN's daemon there, e.g. Slurm's `NodeAddr=127.0.0.1 Port=<base + N>`. Made with"
        " `<qemu:commandline>` (libvirt 9.0 forwards ports of `<interface type='user'>` only with"
        " the passt backend).",
        default=None,
        validator=attrs.validators.optional([attrs.validators.instance_of(int), attrs.validators.ge(1),
                                             attrs.validators.le(65535)]),
    )
    qemu_img: str = documented(
        'The qemu-img program that makes qcow2 overlays (scratch_layout = "overlay").',
        default="qemu-img",
    )
    qemu_img_timeout: Seconds = documented(
        "How long qemu-img may take to make one overlay before it is stopped and the VWN refused.",
        default=Seconds(60),
        converter=parse_duration,
    )

    def __attrs_post_init__(self) -> None:
        # A closed VWN's interface is only as closed as its filter: never one without the other.
        if (self.closed_network is None) != (self.closed_filter is None):
            raise ValueError(
                "closed_network and closed_filter go together: a closed VWN's interface must be"
                " restricted by an nwfilter; set both, or neither for no interface at all"
            )
        if self.user_network_forward_port_base is not None and self.flavour is Flavour.XEN_PV:
            raise ValueError(
                "user_network_forward_port_base needs flavour kvm or qemu: QEMU's user-mode networking"
                " does not exist under Xen"
            )
        if self.closed_network is not None and self.flavour is Flavour.XEN_PV:
            # libvirt applies nwfilters with QEMU, LXC and Cloud Hypervisor only; libxl would
            # accept the <filterref> and ignore it, leaving a "closed" VWN open.
            raise ValueError(
                "closed_network cannot be used with flavour xen-pv: libvirt's Xen driver does not apply"
                " nwfilters, so the interface would not be closed; leave closed_network and"
                " closed_filter unset (closed VWNs then get no interface)"
            )
