"""What every piece of the engine works with: the host's policy, its records, its plugins and
the clock — one bag, handed to the flow, the upkeep and reconciliation.

The moves they make are each in a part of its own: ``calls`` (plugin calls with timeouts and
fences), ``guards`` (one per VWN), ``records`` (record, then tell), ``lifecycle`` (a VWN's
clean-up and end), ``giveback`` (a job handed back to the batch system, in two phases).
"""

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..chain import ResolverChain
from ..config.schema import EngineSection
from ..images.library import Library
from ..images.rolled_out import RolledOut
from ..interfaces import BatchSystem, Hypervisor
from ..model import HostCapacity, VmType
from .calls import PluginCalls
from .guards import Guards
from .records import Listeners, Recorder
from .store import Store

if TYPE_CHECKING:
    from ..config import Config

LOG = logging.getLogger("wnod.engine")

__all__ = ["LOG", "HostPolicy", "Listeners", "Parts"]


@attrs.frozen
class HostPolicy:
    """This host's settings, as the engine needs them."""

    host: str
    capacity: HostCapacity
    engine: EngineSection
    vm_types: Mapping[str, VmType]
    baits: tuple[str, ...] = ()
    """This host's bait nodes in the batch system: closed while its boots keep failing."""
    library: Library | None = None
    """This host's image library ([images] library), where VM types of library images boot from."""
    bare_metal_node: str = ""
    """Mixed mode: the batch system's node of this host's bare-metal jobs, whose CPUs each busy VWN
    reserves ("": none)."""

    @classmethod
    def from_config(cls, config: "Config") -> "HostPolicy":
        host = config.host
        library = Library(Path(config.images.library)) if config.images.library else None
        return cls(
            host=host.name,
            capacity=HostCapacity(vcpus=host.vcpus, memory=host.memory, max_vwns=host.max_vwns),
            engine=config.engine,
            vm_types=config.vm_types if library is None else RolledOut(config.vm_types, library),
            baits=tuple(host.baits),
            library=library,
            bare_metal_node=host.bare_metal_node,
        )

    @property
    def short_host(self) -> str:
        return self.host.split(".")[0].lower()

    def hostname(self, slot: int) -> str:
        return self.engine.vwn_hostname.format(host=self.short_host, slot=slot)

    def slot_of(self, hostname: str) -> int | None:
        """The slot whose VWNs get `hostname`, if any."""
        return next((s for s in range(1, self.capacity.max_vwns + 1) if self.hostname(s) == hostname), None)


class Parts:
    """The store, the plugins, the clock, and the parts that act through them."""

    def __init__(
        self,
        *,
        policy: HostPolicy,
        store: Store,
        batch: BatchSystem,
        hypervisor: Hypervisor,
        chain: ResolverChain,
        listeners: Listeners,
        clock: Callable[[], float] = time.time,
    ):
        self.policy = policy
        self.store = store
        self.batch = batch
        self.hypervisor = hypervisor
        self.chain = chain
        self.clock = clock
        self.calls = PluginCalls(lambda: self.policy.engine.plugin_timeout, batch, hypervisor)
        self.guards = Guards()
        self.records = Recorder(store, listeners, lambda: self.policy.host, clock)
        self.quarantine: dict[str, Any] = {}
        self._warned: set[str] = set()
        """Domains of this host with no record, not adopted yet (vwn id -> strays.Quarantined)."""
        from .breaker import Breaker  # the breaker reads the policy through the parts

        self.breaker = Breaker(self)

    def warn_once(self, key: str, message: str, *args: object) -> None:
        """Log `message` the first time `key` (a VWN's id and what is wrong with it) comes up,
        not on every round it stays so."""
        if key not in self._warned:
            self._warned.add(key)
            LOG.warning(message, *args)

    @property
    def listeners(self) -> Listeners:
        return self.records.listeners

    def close(self, *, wait: bool = False) -> None:
        """Take no more plugin calls; those queued are dropped. `wait`: until running ones return."""
        self.calls.close(wait=wait)
