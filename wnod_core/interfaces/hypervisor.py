"""The interface of a hypervisor backend (libvirt, xl, ...)."""

import abc
import enum
from collections.abc import Callable, Sequence

import attrs

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

    def close(self) -> None:  # noqa: B027 - a backend without a connection has nothing to close
        """Release the backend's connection. Called once, at shutdown."""
