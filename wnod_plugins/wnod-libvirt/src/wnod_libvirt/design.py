"""What domain a VWN gets: the policy turning a VWN spec and the site's options into a ``Domain``.

Every flavour gives a VWN the same two disks: first its VM type's base image (the image
library's version disk, or the image store's file), read-only and shared; second its own
scratch disk, read-write — a fresh sparse raw file, or a qcow2 overlay over that same base
(which the overlay never writes).

An image's update VM (``update_domain``) is made the same way from its VM type, but with the
new version's disk read-write where a VWN has its base, the script disk second, no network,
and a console logged for ``wnod image update`` to show.
"""

import re
from pathlib import Path

import attrs
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import UpdateVmSpec, VwnSpec
from wnod_core.model import VmType
from wnod_core.model.vmtype import Network, ScratchLayout

from .config import Console, Disk, Domain, Identity, Interface, OsBoot, Serial, UpdateIdentity
from .options import Flavour, LibvirtOptions
from .storage import ImageStore, ScratchDisks, check_vwn_id

_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*\Z")
_TRAILING_NUMBER = re.compile(r"(\d+)\Z")
_USER_NIC_SLOT = "0x1e"


@attrs.frozen
class _Shape:
    domain_type: str
    os_type: str
    bus: str
    disk_prefix: str
    console: str
    acpi: bool
    cpu_mode: str | None
    nic_model: str | None


_SHAPES = {
    # libxl needs no ACPI to power a PV guest off, and its netfront needs no model.
    Flavour.XEN_PV: _Shape("xen", "linux", "xen", "xvd", "xen", False, None, None),
    # Without ACPI a guest that powers itself off never reaches "shut off".
    Flavour.KVM: _Shape("kvm", "hvm", "virtio", "vd", "serial", True, "host-passthrough", "virtio"),
    # TCG cannot pass the host CPU through; libvirt's default CPU model does.
    Flavour.QEMU: _Shape("qemu", "hvm", "virtio", "vd", "serial", True, None, "virtio"),
}


@attrs.frozen
class Design:
    options: LibvirtOptions
    images: ImageStore
    scratch: ScratchDisks

    @property
    def shape(self) -> _Shape:
        return _SHAPES[self.options.flavour]

    def domain(self, spec: VwnSpec) -> Domain:
        check_vwn_id(spec.vwn_id)
        vm_type, shape = spec.vm_type, self.shape
        overlay = vm_type.scratch_layout is ScratchLayout.OVERLAY
        base = Disk(
            source=str(self.images.os_disk(spec)),
            target=f"{shape.disk_prefix}a",
            bus=shape.bus,
            readonly=True,
        )
        scratch = Disk(
            source=str(self.scratch.path(spec.vwn_id, overlay)),
            target=f"{shape.disk_prefix}b",
            bus=shape.bus,
            format="qcow2" if overlay else "raw",
        )
        return Domain(
            type=shape.domain_type,
            name=spec.vwn_id,
            identity=Identity(
                vwn_id=spec.vwn_id,
                vm_type=vm_type.name,
                host=spec.host,
                hostname=spec.hostname,
                image_version=vm_type.image_version,
                scratch_bytes=vm_type.scratch_size,
            ),
            memory_kib=-(-vm_type.memory // 1024),
            vcpus=vm_type.vcpus,
            cpuset=vm_type.cpuset,
            bootloader=self._bootloader(vm_type),
            os=self._os(vm_type, self._cmdline(spec)),
            acpi=shape.acpi,
            cpu_mode=shape.cpu_mode,
            disks=(base, scratch),
            interfaces=self._interfaces(spec),
            serials=self._serials(spec),
            consoles=(Console(shape.console),),
            qemu_args=self._user_network(spec),
        )

    def update_domain(self, spec: UpdateVmSpec, console_log: Path | None) -> Domain:
        """The update VM's domain: transient, in no batch system, marked as an update VM (never a
        VWN), its first disk the new version's, read-write; `console_log` gets its serial console.

        A reboot or crash ends it like a power-off: the updater runs its script once, and a guest
        that went down without writing ``status`` has failed the update."""
        check_vwn_id(spec.name)
        vm_type, shape = spec.vm_type, self.shape
        disks = tuple(
            Disk(source=str(path), target=f"{shape.disk_prefix}{letter}", bus=shape.bus)
            for path, letter in ((spec.disk, "a"), (spec.script_disk, "b"))
        )
        for disk in disks:
            if not Path(disk.source).is_absolute():
                raise HypervisorError(f"update VM {spec.name}: disk {disk.source!r} is not an absolute path")
        serials = () if shape.console == "xen" else (Serial(log=str(console_log) if console_log else None),)
        return Domain(
            type=shape.domain_type,
            name=spec.name,
            identity=UpdateIdentity(name=spec.name, vm_type=vm_type.name, host=spec.host),
            memory_kib=-(-vm_type.memory // 1024),
            vcpus=vm_type.vcpus,
            bootloader=self._bootloader(vm_type),
            os=self._os(vm_type, vm_type.cmdline or ""),
            acpi=shape.acpi,
            cpu_mode=shape.cpu_mode,
            disks=disks,
            serials=serials,
            consoles=(Console(shape.console),),
            on_reboot="destroy",
            on_crash="destroy",
        )

    @staticmethod
    def _boots_itself(vm_type: VmType) -> bool:
        if vm_type.kernel is None and (vm_type.initrd is not None or vm_type.cmdline):
            raise HypervisorError(
                f"VM type {vm_type.name}: an initrd or a kernel command line needs a kernel to go with"
            )
        return vm_type.kernel is None

    def _bootloader(self, vm_type: VmType) -> str | None:
        return self.options.bootloader if self._boots_itself(vm_type) and self.shape.os_type == "linux" else None

    def _os(self, vm_type: VmType, cmdline: str) -> OsBoot:
        shape = self.shape
        if self._boots_itself(vm_type):
            # Xen PV boots through its bootloader; an HVM guest from its first disk.
            return OsBoot(type=shape.os_type, boot_dev=None if shape.os_type == "linux" else "hd")
        assert vm_type.kernel is not None
        return OsBoot(
            type=shape.os_type,
            kernel=str(self.images.path(vm_type.kernel)),
            initrd=str(self.images.path(vm_type.initrd)) if vm_type.initrd is not None else None,
            cmdline=cmdline or None,
        )

    def _cmdline(self, spec: VwnSpec) -> str:
        """The VM type's command line, and the VWN's batch host name for the guest to take."""
        parameter, cmdline = self.options.hostname_parameter, spec.vm_type.cmdline or ""
        if not parameter or not spec.hostname:
            return cmdline
        if not _HOSTNAME.match(spec.hostname):
            raise HypervisorError(f"VWN {spec.vwn_id}: host name {spec.hostname!r} cannot go on a kernel command line")
        return f"{cmdline} {parameter}={spec.hostname}".strip()

    def forward_port(self, spec: VwnSpec) -> int | None:
        """The host port (on 127.0.0.1) forwarded to the same port in this VWN, if it gets one."""
        base = self.options.user_network_forward_port_base
        if base is None or spec.vm_type.network is not Network.OPEN:
            return None
        number = _TRAILING_NUMBER.search(spec.hostname)
        if number is None:
            raise HypervisorError(
                f"VWN {spec.vwn_id}: user_network_forward_port_base needs a batch host name ending in its"
                f" slot number, got {spec.hostname!r} (see engine.vwn_hostname)"
            )
        port = base + int(number.group(1))
        if port > 65535:
            raise HypervisorError(f"VWN {spec.vwn_id}: forwarded port {port} is beyond 65535")
        return port

    def _user_network(self, spec: VwnSpec) -> tuple[str, ...]:
        port = self.forward_port(spec)
        if port is None:
            return ()
        return (
            "-netdev",
            f"user,id=wnodnet0,hostfwd=tcp:127.0.0.1:{port}-:{port}",
            "-device",
            # A fixed PCI slot, high: QEMU places devices given this way before libvirt's own,
            # which would otherwise find slot 2 taken for their first disk.
            f"virtio-net-pci,netdev=wnodnet0,addr={_USER_NIC_SLOT}",
        )

    def _interfaces(self, spec: VwnSpec) -> tuple[Interface, ...]:
        options, model = self.options, self.shape.nic_model
        if self.forward_port(spec) is not None:
            return ()  # QEMU's user-mode network instead, in qemu_args
        if spec.vm_type.network is Network.OPEN:
            return (Interface(options.open_network, model=model),)
        if options.closed_network is None:
            return ()
        return (Interface(options.closed_network, model=model, filter=options.closed_filter),)

    def _serials(self, spec: VwnSpec) -> tuple[Serial, ...]:
        if self.shape.console == "xen":
            return ()
        log_dir = self.options.console_log_dir
        if log_dir is None:
            return (Serial(),)
        return (Serial(log=str(Path(log_dir) / f"{spec.vwn_id}.console.log")),)
