"""The operations the engine needs from each kind of plugin, and their contracts."""

from .bait import BaitOutcome, BaitRequest, BaitSide, HookAnswer, HookInput
from .batch import BatchHost, BatchSystem
from .hypervisor import DomainEvent, DomainInfo, DomainState, Hypervisor, UpdateVmSpec, VwnSpec
from .resolver import Resolver

__all__ = [
    "BaitOutcome",
    "BaitRequest",
    "BaitSide",
    "BatchHost",
    "BatchSystem",
    "DomainEvent",
    "DomainInfo",
    "DomainState",
    "HookAnswer",
    "HookInput",
    "Hypervisor",
    "Resolver",
    "UpdateVmSpec",
    "VwnSpec",
]
