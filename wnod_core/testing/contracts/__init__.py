"""Contract suites: subclass one in your plugin's tests and provide its fixtures.

Every plugin of a kind, ours and third parties', must pass its kind's suite; the
suites state in code what the interfaces' docstrings promise.
"""

from .batch import BatchDriver, BatchSystemContract, FakeBatchDriver, HookCall, JobOwner
from .hypervisor import ForeignDomain, HypervisorContract
from .resolver import ResolverContract

__all__ = [
    "BatchDriver",
    "BatchSystemContract",
    "FakeBatchDriver",
    "ForeignDomain",
    "HookCall",
    "HypervisorContract",
    "JobOwner",
    "ResolverContract",
]
