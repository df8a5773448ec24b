"""An image's update VM under libvirt: a transient domain, booted, followed and waited for.

Transient, so that nothing of it outlives its run: when the guest powers off (or reboots, or
crashes) libvirt forgets it. Its console is logged by virtlogd to a file of a directory made
for the run, which is followed while the guest runs, so that ``wnod image update`` shows the
script's output as it comes.
"""

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import libvirt
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import UpdateVmSpec

from .design import Design
from .errors import translated
from .host import Host
from .storage import ImageStore

log = logging.getLogger(__name__)

POLL = 0.25
"""Seconds between looks at the domain and its console log: the script's output shows this late."""


class ConsoleTail:
    """Follows a console log as virtlogd writes it, handing on each whole line once."""

    def __init__(self, path: Path, on_line: Callable[[str], None]) -> None:
        self.path, self.on_line = path, on_line
        self._offset, self._partial = 0, b""

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return  # virtlogd makes it when the guest's console opens
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._say(line)

    def finish(self) -> None:
        self.poll()
        if self._partial:
            self._say(self._partial)
            self._partial = b""

    def _say(self, line: bytes) -> None:
        self.on_line(line.rstrip(b"\r").decode(errors="replace"))


def run_update(
    host: Host, design: Design, images: ImageStore, spec: UpdateVmSpec, on_output: Callable[[str], None],
    poll: float = POLL,
) -> None:
    """Boot `spec`'s update VM, follow its console and return when it is gone; past its timeout
    destroy it and raise. Whatever happens, no domain of it is left running by this call."""
    uri = host.uri
    for what, disk in (("the new version's disk", spec.disk), ("the script disk", spec.script_disk)):
        if not disk.is_file():
            raise HypervisorError(f"cannot boot update VM {spec.name} on {uri}: {what} {disk} is not there")
    for name in (spec.vm_type.kernel, spec.vm_type.initrd):
        if name is not None:
            images.existing(name)
    with tempfile.TemporaryDirectory(prefix="wnod-update-console-") as tmp:
        console = Path(tmp) / f"{spec.name}.console.log"
        domain = design.update_domain(spec, console)
        if design.shape.console == "xen":
            on_output(f"(the console of a Xen PV guest is not logged here: `virsh console {spec.name}` shows it)")
        if host.lookup(spec.name) is not None:
            raise HypervisorError(
                f"cannot boot update VM {spec.name} on {uri}: a domain of that name is already there (another"
                f" `wnod image update` making the same version, or one that was cut off: its guest powers"
                f" itself off when its script ends, `virsh destroy {spec.name}` stops it now)"
            )
        with translated(f"start update VM {spec.name}", uri):
            dom = host.connection().createXML(domain.to_text(), libvirt.VIR_DOMAIN_START_VALIDATE)
            uuid = dom.UUIDString()
        log.info("update VM %s started on %s (at most %gs)", spec.name, uri, spec.timeout)
        tail = ConsoleTail(console, on_output)
        deadline = time.monotonic() + spec.timeout
        try:
            while _still_there(host, spec.name, uuid):
                tail.poll()
                if time.monotonic() > deadline:
                    gone = _destroy(host, spec.name, uuid)
                    tail.finish()
                    raise HypervisorError(
                        f"update VM {spec.name} on {uri} was still running after {spec.timeout:g}s"
                        f" (images.update_timeout); {'it was destroyed' if gone else _STILL_THERE}"
                    )
                time.sleep(poll)
        except BaseException:
            # Interrupted, or the connection failed for good: the guest must not run on unwatched.
            _destroy(host, spec.name, uuid)
            raise
        tail.finish()
        log.info("update VM %s on %s is gone", spec.name, uri)


def _still_there(host: Host, name: str, uuid: str) -> bool:
    """Whether the very domain started (not another of the same name) still exists."""
    try:
        dom = host.lookup(name)
    except HypervisorError as exc:
        # The connection broke; the next look opens a new one. The deadline still holds.
        log.warning("update VM %s: %s; looking again", name, exc)
        return True
    if dom is None:
        return False
    with translated(f"read update VM {name}", host.uri):
        return bool(dom.UUIDString() == uuid)


_STILL_THERE = "destroying it failed (see the log): it may still run, `virsh destroy` it"


def _destroy(host: Host, name: str, uuid: str) -> bool:
    """Destroy the very domain started; whether it is gone."""
    try:
        dom = host.lookup(name)
        if dom is not None and dom.UUIDString() == uuid:
            dom.destroy()
        return True
    except (HypervisorError, libvirt.libvirtError) as exc:
        if isinstance(exc, libvirt.libvirtError) and exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return True
        log.error("could not destroy update VM %s on %s: %s; %s", name, host.uri, exc, _STILL_THERE)
        return False
