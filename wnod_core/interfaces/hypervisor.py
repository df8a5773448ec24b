"""The interface of a hypervisor backend (libvirt, xl, ...)."""

import abc
import enum
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from ..errors import HypervisorError
from ..model import VmType


class DomainState(enum.StrEnum):
    """What the hypervisor can tell of a VWN's domain. "Running" is not "ready": joining the
    batch system is the batch adapter's business."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    MISSING = "missing"
    """The hypervisor has no such domain."""


@attrs.frozen
class VwnSpec:
    """Everything a backend needs to make one VWN."""

    vwn_id: str
    """Unique and stable: domain name, disk file names and metadata derive from it."""
    vm_type: VmType
    host: str
    """The hypervisor host, recorded in the domain's metadata."""
    hostname: str
    """The VWN's name in the batch system."""
    image_disk: Path | None = None
    """The read-only OS disk of the image version the host's rollout chose (``image_source =
    "library"``), verified by the core's image library; None: the VM type's ``image``, a file of
    the backend's own image store."""


@attrs.frozen
class UpdateVmSpec:
    """An image's update VM: the seed's "dedicated VM" that mounts a new version's disk read-write.

    Its domain is made like a VWN's of `vm_type` (kernel, initrd, command line, memory, vCPUs),
    but it is in no batch system, runs no job, gets no network and no scratch disk, and is not one
    of ``domains()``: its metadata marks it as an update VM, never as a VWN."""

    name: str
    """The domain's name, unique on this host (e.g. ``wnod-update-debian-science-3``)."""
    vm_type: VmType
    host: str
    disk: Path
    """The new version's disk, attached READ-WRITE as the first disk (where a VWN has its image)."""
    script_disk: Path
    """The second disk: an ext4 filesystem labelled ``WNOD-UPDATE`` holding the admin's script as
    ``run``; the image's updater runs it and writes ``log`` and ``status`` there, then powers off."""
    timeout: float
    """Seconds the VM may run before it is destroyed and the update failed."""


@attrs.frozen
class DomainInfo:
    """A domain wnod made, read back from the hypervisor with the identity wnod stored in it."""

    vwn_id: str
    vm_type: str
    host: str
    state: DomainState
    image_version: str = ""
    hostname: str = ""
    """The VWN's name in the batch system, as the spec gave it ("" if the backend kept none): how
    a daemon that lost its records finds what runs there."""
    vcpus: int = 0
    """The vCPUs the domain was made with (0: the backend does not say): what a daemon that lost
    its records counts an adopted VWN at, since VWNs are sized from their job's request."""
    memory: int = 0
    """The memory the domain was made with, in bytes (0: the backend does not say)."""


@attrs.frozen
class DomainEvent:
    """The hypervisor reports that a VWN's domain changed state."""

    vwn_id: str
    state: DomainState
    detail: str = ""


class Hypervisor(abc.ABC):
    """One hypervisor, as the engine drives it.

    Methods may block; the engine calls them from worker threads. Failures raise
    ``HypervisorError`` with the hypervisor's own message quoted.
    """

    @abc.abstractmethod
    def render(self, spec: VwnSpec) -> str:
        """The exact domain definition `create` would use, as text. Creates nothing."""

    @abc.abstractmethod
    def create(self, spec: VwnSpec) -> None:
        """Make the VWN's scratch disk and start its domain, carrying wnod's identity.

        Idempotent per ``spec.vwn_id``: if that domain already runs, nothing changes.
        On failure nothing of it is left behind (no domain, no disk file).
        """

    @abc.abstractmethod
    def state(self, vwn_id: str) -> DomainState:
        """The domain's state now; ``MISSING`` if there is none."""

    @abc.abstractmethod
    def domains(self) -> Sequence[DomainInfo]:
        """Every domain wnod made on this hypervisor (by its metadata), and no other."""

    @abc.abstractmethod
    def reset_scratch(self, vwn_id: str) -> None:
        """Give the VWN a fresh, empty scratch disk; the read-only disk is untouched.

        The guest may be restarted for it; when this returns the domain runs again.
        Raises ``VwnNotFound`` if there is no such domain.
        """

    @abc.abstractmethod
    def destroy(self, vwn_id: str) -> None:
        """Stop the domain, remove its definition and its scratch disk.

        Idempotent: destroying what is already gone is not an error.
        """

    def watch(self, on_event: Callable[[DomainEvent], None]) -> bool:
        """Deliver domain state changes to `on_event` (from any thread) until `close`.

        Returns False when this backend cannot report events; the engine then polls
        `state`. The default cannot.
        """
        return False

    def run_update(self, spec: UpdateVmSpec, on_output: Callable[[str], None]) -> None:
        """Boot the update VM, hand each line of its console to `on_output` as it comes, and
        return once the guest has powered off, its domain removed.

        Past ``spec.timeout`` the domain is destroyed and ``HypervisorError`` raised; any failure
        leaves no domain behind. Whether the script succeeded is not this call's business: the
        caller reads ``status`` from the script disk. The default cannot run update VMs.
        """
        raise HypervisorError(f"the {type(self).__name__} backend cannot run update VMs")

    def close(self) -> None:  # noqa: B027 - a backend without a connection has nothing to close
        """Release the backend's connection. Called once, at shutdown."""
