"""The operations the engine needs from each kind of plugin, and their contracts."""

from .batch import BaitOutcome, BaitRequest, BatchHost, BatchSystem
from .hypervisor import DomainEvent, DomainInfo, DomainState, Hypervisor, VwnSpec
from .resolver import Resolver

__all__ = [
    "BaitOutcome",
    "BaitRequest",
    "BatchHost",
    "BatchSystem",
    "DomainEvent",
    "DomainInfo",
    "DomainState",
    "Hypervisor",
    "Resolver",
    "VwnSpec",
]
