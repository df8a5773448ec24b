"""The xl backend: VWNs as Xen PV domains, made from xl config files and driven with xl."""

import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from wnod_core.errors import HypervisorError, VwnNotFound
from wnod_core.interfaces import DomainInfo, DomainState, Hypervisor, UpdateVmSpec, VwnSpec
from wnod_core.kits.disks import ScratchDir
from wnod_core.kits.images import ImageStore
from wnod_core.model import VmType
from wnod_core.model.vmtype import Network, ScratchLayout
from wnod_core.records import Dirs

from .config import Disk, DomainConfig, Vif
from .options import XlOptions
from .records import RecordStore, VwnRecord
from .xl import LiveDomain, Xl, XlFailed

log = logging.getLogger(__name__)

MIB = 1024**2
VWN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
"""VWN ids become domain and file names: plain characters only."""

UUID_NAMESPACE = uuid.UUID("8d0f4a5e-3c1b-5b7e-9f62-7a1d2c3b4e5f")
"""Domain UUIDs are uuid5(this, "<host>/<domain>"): stable, so `render` shows what `create` uses."""


class XlHypervisor(Hypervisor):
    """Xen through the xl command. Reports no events (xl has no event stream): the engine polls.

    Per VWN, in ``config_dir``: ``<domain>.cfg`` (the xl config) and ``<domain>.json`` (the
    identity record, see ``records``); in ``scratch_dir``: its scratch disk. Calls for one
    VWN are serialised; calls for different VWNs run side by side.
    """

    def __init__(self, options: XlOptions, *, host: str, dirs: Dirs) -> None:
        self.options = options
        self.host = host
        self.image_store = Path(options.image_store)
        self.scratch_dir = Path(options.scratch_dir) if options.scratch_dir else dirs.state / "xl" / "scratch"
        self.config_dir = Path(options.config_dir) if options.config_dir else dirs.state / "xl" / "domains"
        self.records = RecordStore(self.config_dir)
        self.xl = Xl(options.xl, options.command_timeout)
        self._locks_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    # -- what a VWN is made of ---------------------------------------------------------------------

    def domain_name(self, vwn_id: str) -> str:
        if not isinstance(vwn_id, str) or not VWN_ID_RE.match(vwn_id):
            raise HypervisorError(
                f"xl: VWN id {vwn_id!r} cannot name a domain (letters, digits, '.', '_', '-' only)"
            )
        return f"{self.options.domain_prefix}{vwn_id}"

    def scratch_path(self, domain: str, layout: ScratchLayout) -> Path:
        return self.scratch_dir / f"{domain}.{'qcow2' if layout is ScratchLayout.OVERLAY else 'img'}"

    def config_path(self, domain: str) -> Path:
        return self.config_dir / f"{domain}.cfg"

    def image(self, name: str) -> Path:
        # The core's image store refuses names and symlinks leading out of the store.
        return ImageStore(self.image_store).path(name)

    def base_image(self, spec: VwnSpec) -> Path:
        """The VWN's read-only OS disk (the core's image kit decides: library disk or store image)."""
        return ImageStore(self.image_store).os_disk(spec)

    def domain_config(self, spec: VwnSpec) -> DomainConfig:
        """The xl config of the VWN's domain: policy (which disks, which boot) decided here."""
        vm: VmType = spec.vm_type
        name = self.domain_name(spec.vwn_id)
        base = self.base_image(spec)
        own = self.scratch_path(name, vm.scratch_layout)
        if vm.scratch_layout is ScratchLayout.OVERLAY:
            # One disk: a qcow2 overlay whose writes never reach the base image it reads.
            disks = [Disk(own, "xvda", writable=True, format="qcow2")]
        else:
            disks = [Disk(base, "xvda", writable=False), Disk(own, "xvdb", writable=True)]
        if vm.network is Network.OPEN:
            vifs = [Vif(self.options.bridge)]
        else:
            vifs = [Vif(self.options.closed_bridge)] if self.options.closed_bridge else []
        boot = self._boot(vm)
        identity = (
            f"VWN {spec.vwn_id} (hostname {spec.hostname}) of VM type {vm.name}"
            f"{f', image version {vm.image_version}' if vm.image_version else ''}, on host {spec.host}"
        )
        comments = [identity]
        if vm.scratch_layout is ScratchLayout.OVERLAY:
            comments.append(f"xvda: a qcow2 overlay over {base}, which stays read-only")
        try:
            return DomainConfig(
                name=name,
                uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{spec.host}/{name}")),
                memory_mib=max(1, math.ceil(vm.memory / MIB)),
                vcpus=vm.vcpus,
                cpus=vm.cpuset,
                disks=disks,
                vifs=vifs,
                comments=comments,
                **boot,  # type: ignore[arg-type]
            )
        except ValueError as e:
            raise HypervisorError(f"xl: cannot write a config for VWN {spec.vwn_id}: {e}") from None

    def _boot(self, vm: VmType) -> dict[str, object]:
        """How a domain of `vm` boots: its kernel from the image store, or the image's own (pygrub)."""
        if vm.kernel is not None:
            return {"kernel": self.image(vm.kernel), "ramdisk": self.image(vm.initrd) if vm.initrd else None,
                    "extra": vm.cmdline}
        return {"bootloader": "pygrub"}

    def update_config(self, spec: UpdateVmSpec) -> DomainConfig:
        """The update VM's domain: booted as a VWN of its type is (kernel, command line, memory,
        vCPUs), but its first disk is the new version's, READ-WRITE, its second the script disk, it
        gets no network, and a reboot or a crash ends it like a power-off (the image's updater runs
        its script once; a guest that went down without writing ``status`` failed the update)."""
        vm: VmType = spec.vm_type
        if not isinstance(spec.name, str) or not VWN_ID_RE.match(spec.name):
            raise HypervisorError(f"xl: update VM name {spec.name!r} cannot name a domain")
        for what, disk in (("the new version's disk", spec.disk), ("the script disk", spec.script_disk)):
            if not disk.is_absolute() or not disk.is_file():
                raise HypervisorError(f"xl: cannot boot update VM {spec.name}: {what} {disk} is not there")
        boot = self._boot(vm)
        for file in (boot.get("kernel"), boot.get("ramdisk")):
            if file is not None and not Path(str(file)).is_file():
                raise HypervisorError(f"xl: VM type {vm.name}: {file} is not in the image store")
        try:
            return DomainConfig(
                name=spec.name,
                uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{spec.host}/update/{spec.name}")),
                memory_mib=max(1, math.ceil(vm.memory / MIB)),
                vcpus=vm.vcpus,
                cpus=vm.cpuset,
                disks=[Disk(spec.disk, "xvda", writable=True), Disk(spec.script_disk, "xvdb", writable=True)],
                comments=[f"update VM of VM type {vm.name} on host {spec.host}: in no batch system, runs no job",
                          "xvda: the new version's disk, read-write; xvdb: the script disk"],
                on_reboot="destroy",
                on_crash="destroy",
                **boot,  # type: ignore[arg-type]
            )
        except ValueError as e:
            raise HypervisorError(f"xl: cannot write a config for update VM {spec.name}: {e}") from None

    def run_update(self, spec: UpdateVmSpec, on_output: Callable[[str], None]) -> None:
        """Boot the update VM, return once its guest has powered off (xl then removes its domain);
        past ``spec.timeout`` destroy it and raise. It has no record: it is never one of
        ``domains()``, and no domain of it is left by this call whatever happens."""
        config = self.update_config(spec)
        name = config.name
        try:
            text = config.format()
        except ValueError as e:
            raise HypervisorError(f"xl: cannot write a config for update VM {name}: {e}") from None
        with self._lock(name):
            live = self.xl.domains().get(name)
            if live is not None:
                raise HypervisorError(
                    f"xl: cannot boot update VM {name}: a domain of that name is already there (another"
                    f" `wnod image update` making the same version, or one that was cut off: its guest powers"
                    f" itself off when its script ends, `xl destroy {name}` stops it now)")
            path = self.config_dir / f"{name}.update.cfg"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text)
            tmp.replace(path)
            try:
                on_output(f"(the console of a Xen PV guest is not logged here: `xl console {name}` shows it)")
                self.xl.create(str(path))
                log.info("xl: update VM %s started (at most %gs)", name, spec.timeout)
                deadline = time.monotonic() + spec.timeout
                while (live := self._update_domain(name, config.uuid)) is not None:
                    if time.monotonic() > deadline:
                        self.xl.destroy(live.domid)
                        raise HypervisorError(f"xl: update VM {name} was still running after {spec.timeout:g}s"
                                              " (images.update_timeout); it was destroyed")
                    time.sleep(self.update_poll)
            except BaseException as e:
                self._end_update(name, config.uuid, e)
                raise
            finally:
                path.unlink(missing_ok=True)

    update_poll = 1.0
    """Seconds between two looks at a running update VM."""

    def _update_domain(self, name: str, uuid_: str) -> LiveDomain | None:
        live = self.xl.domains().get(name)
        return live if live is not None and (live.uuid is None or live.uuid.lower() == uuid_.lower()) else None

    def _end_update(self, name: str, uuid_: str, cause: BaseException) -> None:
        """After a failed run: no update VM of ours is left running."""
        try:
            live = self._update_domain(name, uuid_)
            if live is not None:
                self.xl.destroy(live.domid)
        except HypervisorError as e:
            log.error("xl: after a failed update run of %s (%s), could not destroy it: %s", name, cause, e)

    def render(self, spec: VwnSpec) -> str:
        return self._written(spec)[1]

    def _written(self, spec: VwnSpec) -> tuple[DomainConfig, str]:
        """The VWN's config and the text of its file; a value xl could not read is a HypervisorError."""
        config = self.domain_config(spec)
        try:
            return config, config.format()
        except ValueError as e:
            raise HypervisorError(f"xl: cannot write a config for VWN {spec.vwn_id}: {e}") from None

    # -- the interface -----------------------------------------------------------------------------

    def create(self, spec: VwnSpec) -> None:
        config, text = self._written(spec)
        name = config.name
        with self._lock(name):
            record = self.records.get(name)
            live = self.xl.domains().get(name)
            if record is not None and _ours(live, record):
                assert live is not None
                if self._stored_config(record) != text:
                    raise HypervisorError(f"xl: domain {name} exists with another definition; destroy it first")
                if live.state not in (DomainState.RUNNING, DomainState.PAUSED):
                    raise HypervisorError(f"xl: domain {name} exists, {live.state}; destroy it first")
                return  # already runs: a repeated create changes nothing
            if live is not None:
                raise HypervisorError(
                    f"xl: a domain named {name} (id {live.domid}) exists that wnod did not make; not touching it"
                )
            self._check_files(spec)
            record = VwnRecord(
                vwn_id=spec.vwn_id,
                vm_type=spec.vm_type.name,
                host=spec.host,
                hostname=spec.hostname,
                image_version=spec.vm_type.image_version,
                domain=name,
                uuid=config.uuid,
                config=str(self.config_path(name)),
                scratch=str(self.scratch_path(name, spec.vm_type.scratch_layout)),
                scratch_layout=str(spec.vm_type.scratch_layout),
                scratch_size=spec.vm_type.scratch_size,
                # reset_scratch remakes an overlay over this, not over whatever is current then
                base_image=str(self.base_image(spec)),
            )
            try:
                self.records.put(record)  # first: a crash from here on leaves a VWN wnod can find
                self._make_scratch(record)
                self._write_config(record, text)
                self.xl.create(record.config)
            except BaseException as e:
                self._undo_create(record, e)
                raise
            log.info("xl: created domain %s for VWN %s", name, spec.vwn_id)

    def state(self, vwn_id: str) -> DomainState:
        name = self.domain_name(vwn_id)
        record = self.records.get(name)
        if record is None:
            return DomainState.MISSING
        return _state(self.xl.domains().get(name), record)

    def domains(self) -> Sequence[DomainInfo]:
        records = list(self.records.all())
        if not records:
            return []
        live = self.xl.domains()
        return [
            DomainInfo(
                vwn_id=r.vwn_id,
                vm_type=r.vm_type,
                host=r.host,
                state=_state(live.get(r.domain), r),
                image_version=r.image_version,
                hostname=r.hostname,
            )
            for r in records
        ]

    def reset_scratch(self, vwn_id: str) -> None:
        name = self.domain_name(vwn_id)
        with self._lock(name):
            record = self.records.get(name)
            if record is None:
                raise VwnNotFound(f"xl: no VWN {vwn_id} (no domain {name} made by wnod)")
            self._stop(name, record)
            self._make_scratch(record)  # replaced whole: the old disk is gone once the new one is in
            self.xl.create(record.config)
            log.info("xl: VWN %s restarted on a fresh scratch disk", vwn_id)

    def destroy(self, vwn_id: str) -> None:
        name = self.domain_name(vwn_id)
        with self._lock(name):
            record = self.records.get(name)
            if record is None:
                return  # never made, or already gone; a domain of that name is not wnod's
            self._stop(name, record)
            self.scratch_files.remove(Path(record.scratch))
            Path(record.config).unlink(missing_ok=True)
            self.records.delete(name)  # last: until here, a retry finds what is left
            log.info("xl: destroyed domain %s of VWN %s", name, vwn_id)

    # -- parts -------------------------------------------------------------------------------------

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with self._locks_lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            yield

    def _check_files(self, spec: VwnSpec) -> None:
        vm = spec.vm_type
        needed = [("kernel", vm.kernel), ("initrd", vm.initrd)]
        if spec.image_disk is None:
            needed.insert(0, ("image", vm.image))
        else:
            try:
                ImageStore(self.image_store).existing_os_disk(spec)
            except HypervisorError as exc:
                raise HypervisorError(f"xl: {exc}") from None
        for what, file in needed:
            if file is not None and not self.image(file).is_file():
                raise HypervisorError(
                    f"xl: VM type {vm.name}: {what} {self.image(file)} is not in the image store"
                )

    @property
    def scratch_files(self) -> ScratchDir:
        """The core's disk kit over this backend's scratch directory."""
        return ScratchDir(self.scratch_dir, qemu_img=self.options.qemu_img, timeout=self.options.command_timeout,
                          who="xl: ")

    def _make_scratch(self, record: VwnRecord) -> None:
        target = Path(record.scratch)
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        if record.scratch_layout == ScratchLayout.OVERLAY:
            # As large as the VM type's scratch size, or the base's if larger.
            self.scratch_files.make_overlay(target, Path(record.base_image), record.scratch_size)
        else:
            self.scratch_files.make_raw(target, record.scratch_size)

    def _write_config(self, record: VwnRecord, text: str) -> None:
        path = Path(record.config)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def _stored_config(self, record: VwnRecord) -> str | None:
        try:
            return Path(record.config).read_text()
        except OSError:
            return None

    def _undo_create(self, record: VwnRecord, cause: BaseException) -> None:
        """Leave nothing of a failed create: no domain, no disk, no files."""
        try:
            live = self.xl.domains().get(record.domain)
            if live is not None and _ours(live, record):
                self.xl.destroy(live.domid)
        except HypervisorError as e:
            log.error("xl: after a failed create of %s (%s), could not destroy it: %s", record.domain, cause, e)
            return  # keep the record, so domains() lists it and destroy() can finish the job
        self.scratch_files.remove(Path(record.scratch))
        Path(record.config).unlink(missing_ok=True)
        self.records.delete(record.domain)

    def _stop(self, name: str, record: VwnRecord) -> None:
        """Stop wnod's domain `name` if it runs: a clean shutdown if the guest takes one in time, then destroy."""
        live = self.xl.domains().get(name)
        if live is None or not _ours(live, record):
            return
        timeout = self.options.shutdown_timeout
        if timeout > 0 and live.state in (DomainState.RUNNING, DomainState.PAUSED):
            try:
                self.xl.shutdown_wait(live.domid, timeout)
            except HypervisorError as e:
                log.info("xl: %s did not shut down cleanly (%s); destroying it", name, e)
            live = self.xl.domains().get(name)
            if live is None or not _ours(live, record):
                return
        try:
            self.xl.destroy(live.domid)
        except XlFailed:
            if self.xl.domains().get(name) is not None:
                raise
            # it went away on its own meanwhile: what destroy wanted


def _ours(live: LiveDomain | None, record: VwnRecord) -> bool:
    """Whether the domain xl lists is the one wnod's record made (same name, same UUID)."""
    if live is None or live.name != record.domain:
        return False
    # No UUID from xl list -l (a dying domain): the name and wnod's record must do.
    return live.uuid is None or live.uuid.lower() == record.uuid.lower()


def _state(live: LiveDomain | None, record: VwnRecord) -> DomainState:
    if live is not None and _ours(live, record):
        return live.state
    # wnod made it and has not destroyed it, but xl lists no such domain: its guest powered
    # off (xl removes a domain that does). Its disk and config remain until destroy.
    return DomainState.SHUTOFF
