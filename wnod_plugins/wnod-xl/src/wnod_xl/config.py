"""xl domain config files, built from objects and formatted in one place.

xl's config file is its own language (libxlu's): ``key = value`` lines, values being
numbers, strings in single or double quotes with C-like backslash escapes, or lists
``[ ..., ... ]``; ``#`` starts a comment. Every string wnod writes goes through
``quote``, which escapes the backslash and the quote and refuses control characters
(a newline is the one way out of a quoted string), so no value — an admin's kernel
command line, a path — can end its string and add a key of its own.

Disks use xl's own disk syntax (xl-disk-configuration): ``format=raw, vdev=xvda,
access=ro, target=PATH``. ``target`` goes last because xl takes everything after
``target=`` as the path, commas included: a path can hold neither a key nor a mode.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

HEADER = "Made by wnod (wnod-xl); wnod rewrites and deletes this file, do not edit it."


def quote(value: str) -> str:
    """``value`` as one xl config string, which the parser reads back exactly."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    bad = sorted({c for c in value if _is_control(c)})
    if bad:
        raise ValueError(f"xl config strings cannot hold control characters {bad!r}: {value!r}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or ord(c) == 0x7F


def _comment(text: str) -> str:
    if any(_is_control(c) for c in text):
        raise ValueError(f"an xl config comment cannot hold control characters: {text!r}")
    return f"# {text}".rstrip()


@attrs.frozen
class Disk:
    """One virtual disk, as xl's disk specification string."""

    target: Path
    vdev: str
    writable: bool
    format: str = "raw"
    """"raw", or "qcow2" for a copy-on-write overlay (served by xl's qdisk backend)."""

    def spec(self) -> str:
        target = str(self.target)
        if not target.startswith("/"):
            raise ValueError(f"disk {self.vdev}: target must be an absolute path, got {target!r}")
        access = "rw" if self.writable else "ro"
        return f"format={self.format}, vdev={self.vdev}, access={access}, target={target}"


@attrs.frozen
class Vif:
    """One network interface; with no bridge, xl's default bridge."""

    bridge: str | None = None

    def spec(self) -> str:
        return "" if self.bridge is None else f"bridge={self.bridge}"


@attrs.frozen(kw_only=True)
class DomainConfig:
    """A Xen PV domain as an xl config file describes it. ``format`` writes the file's text."""

    name: str
    uuid: str
    memory_mib: int
    vcpus: int
    disks: Sequence[Disk] = attrs.field(converter=tuple)
    kernel: Path | None = None
    ramdisk: Path | None = None
    extra: str = ""
    """The kernel command line; only with ``kernel``."""
    bootloader: str | None = None
    """"pygrub": boot the kernel the read-only image holds. Exclusive with ``kernel``."""
    cpus: str | None = None
    """Host CPUs every vCPU is pinned to, e.g. "2-5"; None, not pinned."""
    vifs: Sequence[Vif] = attrs.field(default=(), converter=tuple)
    comments: Sequence[str] = attrs.field(default=(), converter=tuple)
    """Lines written at the top, for the admin who reads the file."""
    on_reboot: str = "restart"
    on_crash: str = "preserve"
    """What xl does when the guest reboots or crashes. A VWN restarts, and a crashed one is kept
    so that the engine sees CRASHED rather than a silently vanished VWN."""

    def __attrs_post_init__(self) -> None:
        if (self.kernel is None) == (self.bootloader is None):
            raise ValueError(f"domain {self.name}: give exactly one of a kernel or a bootloader")
        if self.kernel is None and (self.ramdisk is not None or self.extra):
            raise ValueError(f"domain {self.name}: a ramdisk or kernel command line needs a kernel")
        if self.memory_mib < 1 or self.vcpus < 1:
            raise ValueError(f"domain {self.name}: memory and vcpus must be at least 1")

    def settings(self) -> list[tuple[str, str]]:
        """Each ``key = value`` of the file in order, values already in xl syntax."""
        out = [("name", quote(self.name)), ("uuid", quote(self.uuid)), ("type", quote("pv"))]
        if self.kernel is not None:
            out.append(("kernel", quote(str(self.kernel))))
            if self.ramdisk is not None:
                out.append(("ramdisk", quote(str(self.ramdisk))))
            if self.extra:
                out.append(("extra", quote(self.extra)))
        else:
            assert self.bootloader is not None
            out.append(("bootloader", quote(self.bootloader)))
        out += [
            ("memory", str(self.memory_mib)),
            ("maxmem", str(self.memory_mib)),
            ("vcpus", str(self.vcpus)),
        ]
        if self.cpus is not None:
            out.append(("cpus", quote(self.cpus)))
        # A guest that powers off is gone (wnod then sees it shut off).
        out += [
            ("on_poweroff", quote("destroy")),
            ("on_reboot", quote(self.on_reboot)),
            ("on_crash", quote(self.on_crash)),
        ]
        out.append(("disk", _list(d.spec() for d in self.disks)))
        if self.vifs:
            out.append(("vif", _list(v.spec() for v in self.vifs)))
        return out

    def format(self) -> str:
        lines = [_comment(HEADER), *(_comment(c) for c in self.comments)]
        lines += [f"{key} = {value}" for key, value in self.settings()]
        return "\n".join(lines) + "\n"


def _list(items: Iterable[str]) -> str:
    quoted = [quote(i) for i in items]
    return "[\n" + "".join(f"    {q},\n" for q in quoted) + "]"
