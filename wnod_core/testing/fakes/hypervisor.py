"""An in-memory hypervisor, for testing the engine and anything else that drives a ``Hypervisor``.

A test tool, not a product feature: it makes no virtual machine. It keeps every promise
of the ``Hypervisor`` interface exactly (the contract suite proves it). Host capacity is
not enforced here: keeping within it is the engine's job, and a test should see it fail.
"""

import threading
from collections.abc import Callable, Sequence

import attrs

from ...errors import HypervisorError, VwnNotFound
from ...interfaces import DomainEvent, DomainInfo, DomainState, Hypervisor, UpdateVmSpec, VwnSpec
from .recording import Recorded
from .store import Codec, MemoryStore, Store, attrs_codec

_INTERFACE = ("render", "create", "state", "domains", "reset_scratch", "destroy", "watch", "run_update", "close")

UpdateGuest = Callable[[UpdateVmSpec, Callable[[str], None]], None]
"""What an update VM's guest does in the fake: acts on ``spec.disk`` and ``spec.script_disk`` as
the image's updater would (run the script, write ``log`` and ``status``), printing lines to its
console (the second argument) as it goes."""


@attrs.frozen
class FakeDomain:
    """A VWN's domain in the fake, as a test may inspect it."""

    spec: VwnSpec
    state: DomainState
    scratch_resets: int = 0
    """How many times its scratch disk was made afresh since it was created."""


_DOMAIN_CODEC: Codec[FakeDomain] = attrs_codec(FakeDomain)
_STATE_CODEC: Codec[DomainState] = Codec(dump=str, load=DomainState)


class FakeHypervisor(Recorded, Hypervisor):
    """A hypervisor held in memory, for tests only. Thread-safe: the engine calls it from threads.

    Domains are named by their VWN id. Tests drive what a real hypervisor does on its own:
    ``crash`` and ``power_off`` a VWN, ``add_foreign`` a domain wnod did not make (which
    ``domains`` never lists and no call ever touches). `on_create` is told of each VWN's
    guest booting (made, or restarted by ``reset_scratch``), `on_destroy` of each one removed,
    after the fact and outside the fake's lock; a test uses them to have the VWN's batch daemon
    join the fake batch system (anew after a restart), or leave it, as its guest would.

    With `reports_events` (the default) ``watch`` delivers every state change to its
    callbacks, from the thread that caused it; without, ``watch`` returns False and the
    engine must poll. ``reset_scratch`` restarts the guest and reports it as a real
    backend would: SHUTOFF, then RUNNING, both with detail "scratch reset".

    Every interface call is logged (``calls``) and can be failed (``fail_next``) or held
    back (``before``) by the test; an injected failure of ``create`` leaves nothing behind.

    Its domains live in `store`: in memory by default; ``SharedFakeHypervisor`` keeps them
    in a SQLite file that other processes share. Watchers are this process's own.
    """

    def __init__(
        self,
        *,
        reports_events: bool = True,
        on_create: Callable[[VwnSpec], None] | None = None,
        on_destroy: Callable[[VwnSpec], None] | None = None,
        store: Store | None = None,
        update_guest: UpdateGuest | None = None,
    ) -> None:
        super().__init__(_INTERFACE)
        self._update_guest = update_guest
        self._store: Store = MemoryStore() if store is None else store
        self._domains = self._store.table("hypervisor.domains", _DOMAIN_CODEC)
        self._foreign = self._store.table("hypervisor.foreign", _STATE_CODEC)
        self._watch_lock = threading.Lock()
        self._watchers: list[Callable[[DomainEvent], None]] = []
        self._reports_events = reports_events
        self._on_create = on_create
        self._on_destroy = on_destroy

    # -- driving it, as the hypervisor and the world around it would -------------------------------

    def crash(self, vwn_id: str, detail: str = "crashed") -> None:
        """The VWN's guest dies; its domain stays, CRASHED, until destroyed."""
        self._set_state(vwn_id, DomainState.CRASHED, detail)

    def power_off(self, vwn_id: str, detail: str = "shut down") -> None:
        """The VWN's guest shuts itself down; its domain stays, SHUTOFF, until destroyed."""
        self._set_state(vwn_id, DomainState.SHUTOFF, detail)

    def pause(self, vwn_id: str) -> None:
        """An admin pauses the VWN's domain (``virsh suspend``): it exists, and runs nothing."""
        self._set_state(vwn_id, DomainState.PAUSED, "paused")

    def resume(self, vwn_id: str) -> None:
        self._set_state(vwn_id, DomainState.RUNNING, "resumed")

    def add_foreign(self, name: str, state: DomainState = DomainState.RUNNING) -> None:
        """A domain someone else made on this hypervisor: wnod must neither list nor touch it."""
        with self._store.transaction():
            self._foreign[name] = state

    def foreign_domains(self) -> dict[str, DomainState]:
        with self._store.transaction(write=False):
            return dict(self._foreign.items())

    # -- looking at it -----------------------------------------------------------------------------

    def domain(self, vwn_id: str) -> FakeDomain | None:
        """The VWN's domain as it stands, without logging a call."""
        with self._store.transaction(write=False):
            return self._domains.get(vwn_id)

    def running(self) -> list[str]:
        """The VWN ids of the running domains, sorted."""
        with self._store.transaction(write=False):
            return sorted(i for i, d in self._domains.items() if d.state is DomainState.RUNNING)

    # -- the interface -----------------------------------------------------------------------------

    def render(self, spec: VwnSpec) -> str:
        self._enter("render", spec)
        return _render(spec)

    def create(self, spec: VwnSpec) -> None:
        self._enter("create", spec)
        if spec.image_disk is not None and not spec.image_disk.is_file():
            # As a real backend: a domain is not made on a disk that is not there.
            raise HypervisorError(f"fake: cannot create {spec.vwn_id}: no image disk {spec.image_disk}")
        with self._store.transaction():
            if spec.vwn_id in self._foreign:
                raise HypervisorError(f"fake: cannot create {spec.vwn_id}: a domain not wnod's has that name")
            existing = self._domains.get(spec.vwn_id)
            if existing is not None:
                if existing.spec != spec:
                    raise HypervisorError(f"fake: {spec.vwn_id} exists with another definition")
                if existing.state is not DomainState.RUNNING:
                    raise HypervisorError(f"fake: {spec.vwn_id} exists, {existing.state}; destroy it first")
                return  # already runs: a repeated create changes nothing
            self._domains[spec.vwn_id] = FakeDomain(spec=spec, state=DomainState.RUNNING)
            self._changed(spec, DomainState.RUNNING)
        self._emit(DomainEvent(spec.vwn_id, DomainState.RUNNING, "started"))
        if self._on_create is not None:
            self._on_create(spec)

    def state(self, vwn_id: str) -> DomainState:
        self._enter("state", vwn_id)
        with self._store.transaction(write=False):
            domain = self._domains.get(vwn_id)
            return DomainState.MISSING if domain is None else domain.state

    def domains(self) -> Sequence[DomainInfo]:
        self._enter("domains")
        with self._store.transaction(write=False):
            return [_info(d) for _, d in sorted(self._domains.items())]

    def reset_scratch(self, vwn_id: str) -> None:
        self._enter("reset_scratch", vwn_id)
        with self._store.transaction():
            domain = self._domains.get(vwn_id)
            if domain is None:
                raise VwnNotFound(f"fake: no domain {vwn_id}")
            was_running = domain.state is DomainState.RUNNING
            self._domains[vwn_id] = attrs.evolve(
                domain, state=DomainState.RUNNING, scratch_resets=domain.scratch_resets + 1
            )
            self._changed(domain.spec, DomainState.RUNNING)
        if was_running:
            self._emit(DomainEvent(vwn_id, DomainState.SHUTOFF, "scratch reset"))
        self._emit(DomainEvent(vwn_id, DomainState.RUNNING, "scratch reset"))
        if self._on_create is not None:  # the guest booted again: its batch daemon registers anew
            self._on_create(domain.spec)

    def destroy(self, vwn_id: str) -> None:
        self._enter("destroy", vwn_id)
        with self._store.transaction():
            domain = self._domains.pop(vwn_id, None)
            if domain is not None:
                self._changed(domain.spec, DomainState.MISSING)
        if domain is None:
            return  # gone already, or never wnod's: nothing of wnod's to remove
        self._emit(DomainEvent(vwn_id, DomainState.MISSING, "destroyed"))
        if self._on_destroy is not None:
            self._on_destroy(domain.spec)

    def watch(self, on_event: Callable[[DomainEvent], None]) -> bool:
        self._enter("watch", on_event)
        if not self._reports_events:
            return False
        with self._watch_lock:
            self._watchers.append(on_event)
        return True

    def run_update(self, spec: UpdateVmSpec, on_output: Callable[[str], None]) -> None:
        """Runs the `update_guest` the test gave, in place of a guest; no guest: refused, as by a
        backend that cannot run update VMs. The update VM is never one of ``domains()``."""
        self._enter("run_update", spec)
        if self._update_guest is None:
            raise HypervisorError("fake: no update guest given (FakeHypervisor(update_guest=...))")
        for disk in (spec.disk, spec.script_disk):
            if not disk.is_file():
                raise HypervisorError(f"fake: cannot boot update VM {spec.name}: no disk {disk}")
        self._update_guest(spec, on_output)

    def close(self) -> None:
        """Stops event delivery; the domains stay, as a real hypervisor's outlive wnod's connection."""
        self._enter("close")
        with self._watch_lock:
            self._watchers.clear()

    # -- inside ------------------------------------------------------------------------------------

    def _set_state(self, vwn_id: str, state: DomainState, detail: str) -> None:
        with self._store.transaction():
            domain = self._domains.get(vwn_id)
            if domain is None:
                raise VwnNotFound(f"fake: no domain {vwn_id}")
            self._domains[vwn_id] = attrs.evolve(domain, state=state)
            self._changed(domain.spec, state)
        self._emit(DomainEvent(vwn_id, state, detail))

    def _changed(self, spec: VwnSpec, state: DomainState) -> None:
        """Told, inside the transaction that made the change, that a VWN's domain is now `state`.

        Nothing here; a subclass hooks what must change with it, atomically (the shared
        fake's ``auto_join``). ``reset_scratch`` tells RUNNING, as the guest runs again.
        """

    def _emit(self, event: DomainEvent) -> None:
        # Called outside any transaction: a callback may well call back into the fake.
        with self._watch_lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher(event)


def _info(domain: FakeDomain) -> DomainInfo:
    spec = domain.spec
    return DomainInfo(
        vwn_id=spec.vwn_id,
        vm_type=spec.vm_type.name,
        host=spec.host,
        state=domain.state,
        image_version=spec.vm_type.image_version,
        hostname=spec.hostname,
        vcpus=spec.vm_type.vcpus,
        memory=spec.vm_type.memory,
    )


def _render(spec: VwnSpec) -> str:
    """A plain key = value listing: deterministic, and enough for a test to see what was asked."""
    vm_type = spec.vm_type
    lines = [
        "# fake domain definition (wnod test tool: nothing is ever made from it)",
        f"name = {spec.vwn_id}",
        f"wnod.vwn_id = {spec.vwn_id}",
        f"wnod.vm_type = {vm_type.name}",
        f"wnod.host = {spec.host}",
        f"wnod.image_version = {vm_type.image_version}",
        f"hostname = {spec.hostname}",
        f"image = {spec.image_disk or vm_type.image}",
        f"vcpus = {vm_type.vcpus}",
        f"memory = {vm_type.memory}",
        f"scratch_size = {vm_type.scratch_size}",
        f"scratch_layout = {vm_type.scratch_layout}",
        f"network = {vm_type.network}",
        f"kernel = {vm_type.kernel or ''}",
        f"initrd = {vm_type.initrd or ''}",
        f"cmdline = {vm_type.cmdline}",
        f"cpuset = {vm_type.cpuset or ''}",
    ]
    return "\n".join(lines) + "\n"
