"""``LibvirtHypervisor``: wnod's hypervisor interface over libvirt."""

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import libvirt
from wnod_core.errors import HypervisorError, VwnNotFound
from wnod_core.interfaces import DomainEvent, DomainInfo, DomainState, Hypervisor, UpdateVmSpec, VwnSpec
from wnod_core.records import Setup

from . import update
from .config import WNOD_NS, Disk, Domain, Identity, XmlError
from .design import Design
from .errors import is_code, translate, translated
from .host import Host
from .options import LibvirtOptions
from .states import domain_state, event_state
from .storage import ImageStore, ScratchDisks, check_vwn_id

log = logging.getLogger(__name__)


class LibvirtHypervisor(Hypervisor):
    """VWNs as persistent libvirt domains named by their VWN id and marked with wnod's metadata.

    A domain without that metadata is not wnod's: it is never listed, changed or removed,
    and a VWN whose name it holds cannot be made."""

    def __init__(self, options: LibvirtOptions, host: Host | None = None) -> None:
        self.options = options
        self.images = ImageStore(Path(options.image_store))
        self.scratch = ScratchDisks(
            Path(options.scratch_dir), qemu_img=options.qemu_img, timeout=options.qemu_img_timeout
        )
        self.design = Design(options, self.images, self.scratch)
        self.host = host if host is not None else Host(options.uri)
        self._watchers: list[Callable[[DomainEvent], None]] = []
        self._watch_lock = threading.Lock()
        self._ours: dict[str, bool] = {}
        """Domain names known to be (or not be) wnod's, so events need no lookup."""
        self._vwn_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self.options.uri

    # -- render and create ------------------------------------------------------------------------

    def render(self, spec: VwnSpec) -> str:
        return self.design.domain(spec).to_text()

    def create(self, spec: VwnSpec) -> None:
        vwn_id = check_vwn_id(spec.vwn_id)
        domain = self.design.domain(spec)
        with self._vwn_lock(vwn_id):
            dom = self.host.lookup(vwn_id)
            if dom is not None:
                self._start_existing(vwn_id, dom)
                return
            # Before anything is made: a missing image is refused with nothing to undo.
            base = self.images.existing_os_disk(spec)
            for name in (spec.vm_type.kernel, spec.vm_type.initrd):
                if name is not None:
                    self.images.existing(name)
            self._ours[vwn_id] = True
            try:
                self._make_scratch(domain, base)
                with translated(f"define domain {vwn_id}", self.uri, vwn_id):
                    dom = self.host.connection().defineXMLFlags(
                        domain.to_text(), libvirt.VIR_DOMAIN_DEFINE_VALIDATE
                    )
                with translated(f"start domain {vwn_id}", self.uri, vwn_id):
                    dom.create()
            except BaseException:
                self._undo_create(vwn_id, domain)
                raise

    def _start_existing(self, vwn_id: str, dom: libvirt.virDomain) -> None:
        """Idempotent create: a running VWN is left alone, a stopped one of wnod's started again."""
        domain = self._domain_of(dom, vwn_id)
        with translated(f"start domain {vwn_id}", self.uri, vwn_id):
            if dom.isActive():
                return
            scratch = self._scratch_disk(domain)
            if not Path(scratch.source).exists():
                self._make_scratch(domain, self._base_path(domain))
            dom.create()

    def _undo_create(self, vwn_id: str, domain: Domain) -> None:
        """Leave nothing of a create that failed: no domain, no disk file."""
        try:
            dom = self.host.lookup(vwn_id)
            if dom is not None:
                self._stop_and_undefine(vwn_id, dom)
        except HypervisorError as exc:
            log.error("could not remove domain %s after its create failed: %s", vwn_id, exc)
        self._remove_files(domain)

    # -- reading back -----------------------------------------------------------------------------

    def state(self, vwn_id: str) -> DomainState:
        dom = self.host.lookup(vwn_id)
        if dom is None or self._identity(dom) is None:
            return DomainState.MISSING
        with translated(f"read the state of domain {vwn_id}", self.uri, vwn_id):
            try:
                state, reason = dom.state()
            except libvirt.libvirtError as exc:
                if is_code(exc, libvirt.VIR_ERR_NO_DOMAIN):
                    return DomainState.MISSING
                raise
        return domain_state(state, reason)

    def domains(self) -> Sequence[DomainInfo]:
        with translated("list domains", self.uri):
            listed = self.host.connection().listAllDomains(0)
        infos = []
        for dom in listed:
            identity = self._identity(dom)
            if identity is None:
                continue
            try:
                state = domain_state(*dom.state())
                # [state, max memory KiB, memory KiB, vCPUs, CPU time]: its size as it was made.
                _, max_kib, _, vcpus, _ = dom.info()
            except libvirt.libvirtError as exc:
                if is_code(exc, libvirt.VIR_ERR_NO_DOMAIN):
                    continue  # gone since it was listed
                raise translate(exc, f"read the state of domain {identity.vwn_id}", self.uri) from exc
            infos.append(
                DomainInfo(
                    vwn_id=identity.vwn_id,
                    vm_type=identity.vm_type,
                    host=identity.host,
                    state=state,
                    image_version=identity.image_version,
                    hostname=identity.hostname,
                    vcpus=vcpus,
                    memory=max_kib * 1024,
                )
            )
        return infos

    def _identity(self, dom: libvirt.virDomain) -> Identity | None:
        """wnod's identity of `dom`, or None if wnod did not make it (or it is gone)."""
        name = _name(dom)
        try:
            text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, WNOD_NS, 0)
        except libvirt.libvirtError as exc:
            if is_code(exc, libvirt.VIR_ERR_NO_DOMAIN_METADATA) or is_code(exc, libvirt.VIR_ERR_NO_DOMAIN):
                self._ours[name] = False
                return None
            with translated(f"read the metadata of domain {name}", self.uri, name):
                raise
        try:
            identity = Identity.from_text(text)
        except XmlError as exc:
            log.warning("domain %s carries wnod's namespace but not its metadata (%s); leaving it be", name, exc)
            self._ours[name] = False
            return None
        if identity.vwn_id != name:
            log.warning("domain %s carries the metadata of VWN %s; leaving it be", name, identity.vwn_id)
            self._ours[name] = False
            return None
        self._ours[name] = True
        return identity

    def _domain_of(self, dom: libvirt.virDomain, vwn_id: str) -> Domain:
        """wnod's definition of `dom`, parsed back; refuses a domain wnod did not make."""
        if self._identity(dom) is None:
            raise HypervisorError(
                f"domain {vwn_id} on {self.uri} was not made by wnod (it has no wnod metadata);"
                " wnod leaves it alone and cannot use its name for a VWN"
            )
        with translated(f"read the definition of domain {vwn_id}", self.uri, vwn_id):
            text = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        try:
            return Domain.from_text(text)
        except XmlError as exc:
            raise HypervisorError(f"domain {vwn_id} on {self.uri}: cannot read its definition: {exc}") from None

    # -- reset and destroy ------------------------------------------------------------------------

    def reset_scratch(self, vwn_id: str) -> None:
        with self._vwn_lock(vwn_id):
            dom = self.host.lookup(vwn_id)
            if dom is None or self._identity(dom) is None:
                raise VwnNotFound(f"cannot reset the scratch disk of VWN {vwn_id}: {self.uri} has no such VWN")
            domain = self._domain_of(dom, vwn_id)
            # The guest goes down hard: everything it could still write is about to be wiped.
            with translated(f"stop domain {vwn_id} to reset its scratch disk", self.uri, vwn_id):
                if dom.isActive():
                    dom.destroy()
            self._make_scratch(domain, self._base_path(domain))
            with translated(f"start domain {vwn_id} after resetting its scratch disk", self.uri, vwn_id):
                dom.create()

    def destroy(self, vwn_id: str) -> None:
        check_vwn_id(vwn_id)
        with self._vwn_lock(vwn_id):
            dom = self.host.lookup(vwn_id)
            if dom is None:
                # Gone already; a destroy cut short may have left its disk behind.
                for path in self.scratch.all_paths(vwn_id):
                    self.scratch.remove(path)
                self._remove_console_log(vwn_id)
                return
            domain = self._domain_of(dom, vwn_id)
            self._stop_and_undefine(vwn_id, dom)
            self._remove_files(domain)

    def _stop_and_undefine(self, vwn_id: str, dom: libvirt.virDomain) -> None:
        with translated(f"destroy domain {vwn_id}", self.uri, vwn_id):
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError as exc:
                if not is_code(exc, libvirt.VIR_ERR_NO_DOMAIN):
                    raise

    # -- files ------------------------------------------------------------------------------------

    @staticmethod
    def _scratch_disk(domain: Domain) -> Disk:
        writable = [d for d in domain.disks if not d.readonly]
        if len(writable) != 1:
            raise HypervisorError(f"domain {domain.name} has {len(writable)} read-write disks, expected 1")
        return writable[0]

    @staticmethod
    def _base_path(domain: Domain) -> Path:
        readonly = [d for d in domain.disks if d.readonly]
        if not readonly:
            raise HypervisorError(f"domain {domain.name} has no read-only disk")
        return Path(readonly[0].source)

    def _make_scratch(self, domain: Domain, base: Path) -> None:
        disk = self._scratch_disk(domain)
        path = Path(disk.source)
        if not self.scratch.owns(path):
            raise HypervisorError(f"domain {domain.name}: its scratch disk {path} is not in {self.scratch.root}")
        size = domain.identity.scratch_bytes
        if disk.format == "qcow2":
            self.scratch.make_overlay(path, base, size)
        else:
            self.scratch.make_raw(path, size)

    def _remove_files(self, domain: Domain) -> None:
        for disk in domain.disks:
            if not disk.readonly and self.scratch.owns(disk.source):
                self.scratch.remove(disk.source)
        self._remove_console_log(domain.name)

    def _remove_console_log(self, vwn_id: str) -> None:
        if self.options.console_log_dir is not None:
            (Path(self.options.console_log_dir) / f"{vwn_id}.console.log").unlink(missing_ok=True)

    # -- an image's update VM ---------------------------------------------------------------------

    def run_update(self, spec: UpdateVmSpec, on_output: Callable[[str], None]) -> None:
        with self._vwn_lock(spec.name):
            update.run_update(self.host, self.design, self.images, spec, on_output)

    # -- events -----------------------------------------------------------------------------------

    def watch(self, on_event: Callable[[DomainEvent], None]) -> bool:
        with self._watch_lock:
            first = not self._watchers
            self._watchers.append(on_event)
        if first:
            self.host.on_lifecycle(self._lifecycle)
        return True

    def _lifecycle(self, dom: libvirt.virDomain, event: int, detail: int) -> None:
        change = event_state(event, detail)
        if change is None:
            return
        name = _name(dom)
        ours = self._ours.get(name)
        if ours is None:  # a domain of an earlier run, not looked at yet
            ours = self._identity(dom) is not None
        if not ours:
            return
        if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
            self._ours.pop(name, None)
        state, word = change
        with self._watch_lock:
            watchers = list(self._watchers)
        event_ = DomainEvent(vwn_id=name, state=state, detail=word)
        for watcher in watchers:
            try:
                watcher(event_)
            except Exception:  # one broken watcher must not starve the others
                log.exception("a watcher of %s failed on %s", self.uri, event_)

    def close(self) -> None:
        with self._watch_lock:
            self._watchers.clear()
        self.host.close()

    # -- one VWN at a time ------------------------------------------------------------------------

    @contextmanager
    def _vwn_lock(self, vwn_id: str) -> Iterator[None]:
        with self._locks_lock:
            lock = self._vwn_locks.setdefault(vwn_id, threading.Lock())
        with lock:
            yield


def _name(dom: libvirt.virDomain) -> str:
    return str(dom.name())


def build(setup: Setup[LibvirtOptions]) -> LibvirtHypervisor:
    """The plugin's factory: nothing is opened until the first call."""
    return LibvirtHypervisor(setup.options)
