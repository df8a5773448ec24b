"""libvirt domain XML as config objects: each formats itself with ElementTree and parses itself back.

Formatting only: which disks, boot and network a VWN gets is decided in ``design``. Parsing
reads what wnod wrote from what libvirt gives back, ignoring whatever libvirt added (uuid,
arch, defaults), so ``Domain.from_xml`` of a domain wnod defined gives back what it defined.
"""

import xml.etree.ElementTree as ET
from typing import Self

import attrs

WNOD_NS = "urn:wnod:vwn:1"
"""The namespace of wnod's `<metadata>` element; a domain carrying it was made by wnod."""
WNOD_PREFIX = "wnod"

ET.register_namespace(WNOD_PREFIX, WNOD_NS)

UPDATE_NS = "urn:wnod:update:1"
"""The namespace of an image's update VM's `<metadata>`: wnod's, but never a VWN (a VWN is
recognised by WNOD_NS alone, so no listing of VWNs ever shows or touches an update VM)."""
ET.register_namespace("wnodupdate", UPDATE_NS)

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
"""libvirt's namespace for arguments passed to QEMU as they are (`<qemu:commandline>`)."""
ET.register_namespace("qemu", QEMU_NS)


class XmlError(ValueError):
    """Domain XML that is not what wnod writes."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _need(el: ET.Element | None, what: str) -> ET.Element:
    if el is None:
        raise XmlError(f"domain XML has no {what}")
    return el


def _attr(el: ET.Element, name: str, what: str) -> str:
    value = el.get(name)
    if value is None:
        raise XmlError(f"domain XML: {what} has no {name!r} attribute")
    return value


@attrs.frozen
class Identity:
    """Who a domain is to wnod, kept in its `<metadata>` so wnod finds its own after a restart."""

    vwn_id: str
    vm_type: str
    host: str
    hostname: str = ""
    image_version: str = ""
    scratch_bytes: int = 0
    """The scratch disk's size, so a reset makes the same disk again."""

    _FIELDS = (("id", "vwn_id"), ("type", "vm_type"), ("host", "host"), ("hostname", "hostname"))

    def to_xml(self) -> ET.Element:
        root = ET.Element(f"{{{WNOD_NS}}}vwn")
        for tag, field in self._FIELDS:
            _sub(root, f"{{{WNOD_NS}}}{tag}", getattr(self, field))
        _sub(root, f"{{{WNOD_NS}}}image", version=self.image_version)
        _sub(root, f"{{{WNOD_NS}}}scratch", bytes=str(self.scratch_bytes))
        return root

    @classmethod
    def from_xml(cls, root: ET.Element) -> Self:
        """From wnod's element, namespaced (in a domain's XML) or not (as libvirt's metadata API
        gives it back)."""
        if _local(root.tag) != "vwn":
            raise XmlError(f"expected wnod's <vwn> metadata, got <{_local(root.tag)}>")
        children = {_local(child.tag): child for child in root}
        values: dict[str, str] = {}
        for tag, field in cls._FIELDS:
            child = children.get(tag)
            if child is None and tag != "hostname":
                raise XmlError(f"wnod metadata has no <{tag}>")
            values[field] = (child.text or "") if child is not None else ""
        image = children.get("image")
        scratch = children.get("scratch")
        try:
            scratch_bytes = int(scratch.get("bytes", "0")) if scratch is not None else 0
        except ValueError:
            raise XmlError("wnod metadata: <scratch bytes> is not a number") from None
        return cls(
            image_version=image.get("version", "") if image is not None else "",
            scratch_bytes=scratch_bytes,
            **values,
        )

    @classmethod
    def from_text(cls, text: str) -> Self:
        try:
            return cls.from_xml(ET.fromstring(text))
        except ET.ParseError as exc:
            raise XmlError(f"wnod metadata is not XML: {exc}") from None


@attrs.frozen
class UpdateIdentity:
    """An update VM's `<metadata>`: what an admin reading ``virsh dumpxml`` needs to know of it."""

    name: str
    vm_type: str
    host: str

    def to_xml(self) -> ET.Element:
        root = ET.Element(f"{{{UPDATE_NS}}}update")
        for tag in ("name", "vm_type", "host"):
            _sub(root, f"{{{UPDATE_NS}}}{tag.replace('_', '-')}", getattr(self, tag))
        return root


@attrs.frozen
class Disk:
    """A file-backed disk."""

    source: str
    target: str
    """The guest's device name: xvda, vdb, ..."""
    bus: str
    """"xen" or "virtio"."""
    format: str = "raw"
    """"raw" or "qcow2"."""
    readonly: bool = False

    def to_xml(self) -> ET.Element:
        disk = ET.Element("disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type=self.format)
        _sub(disk, "source", file=self.source)
        _sub(disk, "target", dev=self.target, bus=self.bus)
        if self.readonly:
            _sub(disk, "readonly")
        return disk

    @classmethod
    def from_xml(cls, disk: ET.Element) -> Self:
        source = _need(disk.find("source"), "disk <source>")
        target = _need(disk.find("target"), "disk <target>")
        driver = disk.find("driver")
        return cls(
            source=_attr(source, "file", "disk <source>"),
            target=_attr(target, "dev", "disk <target>"),
            bus=target.get("bus", ""),
            format=(driver.get("type") if driver is not None else None) or "raw",
            readonly=disk.find("readonly") is not None,
        )


@attrs.frozen
class Interface:
    """A network interface on a libvirt network, optionally restricted by an nwfilter."""

    network: str
    model: str | None = None
    filter: str | None = None

    def to_xml(self) -> ET.Element:
        iface = ET.Element("interface", type="network")
        _sub(iface, "source", network=self.network)
        if self.model is not None:
            _sub(iface, "model", type=self.model)
        if self.filter is not None:
            _sub(iface, "filterref", filter=self.filter)
        return iface

    @classmethod
    def from_xml(cls, iface: ET.Element) -> Self:
        source = _need(iface.find("source"), "interface <source>")
        model = iface.find("model")
        filterref = iface.find("filterref")
        return cls(
            network=_attr(source, "network", "interface <source>"),
            model=model.get("type") if model is not None else None,
            filter=filterref.get("filter") if filterref is not None else None,
        )


@attrs.frozen
class Serial:
    """A serial port on a pty, optionally logged to a file (by virtlogd)."""

    log: str | None = None

    def to_xml(self) -> ET.Element:
        serial = ET.Element("serial", type="pty")
        if self.log is not None:
            _sub(serial, "log", file=self.log, append="off")
        return serial

    @classmethod
    def from_xml(cls, serial: ET.Element) -> Self:
        log = serial.find("log")
        return cls(log=log.get("file") if log is not None else None)


@attrs.frozen
class Console:
    """The guest's console on a pty: "serial" (the first serial port) or "xen" (PV console)."""

    target: str

    def to_xml(self) -> ET.Element:
        console = ET.Element("console", type="pty")
        _sub(console, "target", type=self.target, port="0")
        return console

    @classmethod
    def from_xml(cls, console: ET.Element) -> Self:
        target = console.find("target")
        return cls(target=(target.get("type") if target is not None else None) or "serial")


@attrs.frozen
class OsBoot:
    """`<os>`: the guest type and how it boots."""

    type: str
    """"linux" (Xen PV) or "hvm"."""
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    boot_dev: str | None = None
    """"hd" to boot from the first disk, when no kernel is given."""

    def to_xml(self) -> ET.Element:
        os_el = ET.Element("os")
        _sub(os_el, "type", self.type)
        for tag in ("kernel", "initrd", "cmdline"):
            value = getattr(self, tag)
            if value is not None:
                _sub(os_el, tag, value)
        if self.boot_dev is not None:
            _sub(os_el, "boot", dev=self.boot_dev)
        return os_el

    @classmethod
    def from_xml(cls, os_el: ET.Element) -> Self:
        boot = os_el.find("boot")
        return cls(
            type=_need(os_el.find("type"), "<os><type>").text or "",
            kernel=os_el.findtext("kernel"),
            initrd=os_el.findtext("initrd"),
            cmdline=os_el.findtext("cmdline"),
            boot_dev=boot.get("dev") if boot is not None else None,
        )


@attrs.frozen
class Domain:
    """One VWN's domain, as wnod defines it."""

    type: str
    """"xen", "kvm" or "qemu"."""
    name: str
    identity: Identity | UpdateIdentity
    """A VWN's; or an image's update VM's, which is written, never read back."""
    memory_kib: int
    vcpus: int
    os: OsBoot
    cpuset: str | None = None
    bootloader: str | None = None
    acpi: bool = False
    cpu_mode: str | None = None
    disks: tuple[Disk, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    serials: tuple[Serial, ...] = ()
    consoles: tuple[Console, ...] = ()
    on_poweroff: str = "destroy"
    qemu_args: tuple[str, ...] = ()
    """Extra QEMU arguments (`<qemu:commandline>`): user-mode networking with its port forward."""
    on_reboot: str = "restart"
    on_crash: str = "destroy"

    def to_xml(self) -> ET.Element:
        dom = ET.Element("domain", type=self.type)
        _sub(dom, "name", self.name)
        _sub(dom, "metadata").append(self.identity.to_xml())
        _sub(dom, "memory", str(self.memory_kib), unit="KiB")
        vcpu = _sub(dom, "vcpu", str(self.vcpus), placement="static")
        if self.cpuset is not None:
            vcpu.set("cpuset", self.cpuset)
        if self.bootloader is not None:
            _sub(dom, "bootloader", self.bootloader)
        dom.append(self.os.to_xml())
        if self.acpi:
            _sub(_sub(dom, "features"), "acpi")
        if self.cpu_mode is not None:
            _sub(dom, "cpu", mode=self.cpu_mode)
        for event in ("on_poweroff", "on_reboot", "on_crash"):
            _sub(dom, event, getattr(self, event))
        devices = _sub(dom, "devices")
        for device in (*self.disks, *self.interfaces, *self.serials, *self.consoles):
            devices.append(device.to_xml())
        if self.qemu_args:
            commandline = _sub(dom, f"{{{QEMU_NS}}}commandline")
            for arg in self.qemu_args:
                _sub(commandline, f"{{{QEMU_NS}}}arg", value=arg)
        return dom

    def to_text(self) -> str:
        root = self.to_xml()
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"

    @classmethod
    def from_xml(cls, dom: ET.Element) -> Self:
        if dom.tag != "domain":
            raise XmlError(f"expected <domain>, got <{dom.tag}>")
        identity = _need(dom.find(f"metadata/{{{WNOD_NS}}}vwn"), "wnod <metadata> (not a VWN)")
        memory = _need(dom.find("memory"), "<memory>")
        if memory.get("unit", "KiB") != "KiB":
            raise XmlError(f"<memory> in {memory.get('unit')}, expected KiB")
        vcpu = _need(dom.find("vcpu"), "<vcpu>")
        cpu = dom.find("cpu")
        devices = dom.find("devices")
        found = (lambda tag: devices.findall(tag)) if devices is not None else (lambda tag: [])
        try:
            memory_kib, vcpus = int(memory.text or ""), int(vcpu.text or "")
        except ValueError:
            raise XmlError("<memory> or <vcpu> is not a number") from None
        return cls(
            type=_attr(dom, "type", "<domain>"),
            name=_need(dom.find("name"), "<name>").text or "",
            identity=Identity.from_xml(identity),
            memory_kib=memory_kib,
            vcpus=vcpus,
            cpuset=vcpu.get("cpuset"),
            bootloader=dom.findtext("bootloader"),
            os=OsBoot.from_xml(_need(dom.find("os"), "<os>")),
            acpi=dom.find("features/acpi") is not None,
            cpu_mode=cpu.get("mode") if cpu is not None else None,
            disks=tuple(Disk.from_xml(d) for d in found("disk")),
            interfaces=tuple(Interface.from_xml(i) for i in found("interface")),
            serials=tuple(Serial.from_xml(s) for s in found("serial")),
            consoles=tuple(Console.from_xml(c) for c in found("console")),
            on_poweroff=dom.findtext("on_poweroff") or "destroy",
            qemu_args=tuple(
                _attr(arg, "value", "<qemu:arg>") for arg in dom.findall(f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg")
            ),
            on_reboot=dom.findtext("on_reboot") or "restart",
            on_crash=dom.findtext("on_crash") or "destroy",
        )

    @classmethod
    def from_text(cls, text: str) -> Self:
        try:
            return cls.from_xml(ET.fromstring(text))
        except ET.ParseError as exc:
            raise XmlError(f"domain XML does not parse: {exc}") from None
