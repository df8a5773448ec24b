"""The engine: placing jobs into VWNs on one hypervisor host, correctly across races and crashes."""

from .engine import Engine
from .flow import BaitAnswer
from .parts import HostPolicy, Listeners, Parts
from .reconcile import Reconciled
from .store import Store, StoreError
from .strays import StrayDecision, StraysNeedDecision

__all__ = [
    "BaitAnswer", "Engine", "HostPolicy", "Listeners", "Parts", "Reconciled", "Store", "StoreError",
    "StrayDecision", "StraysNeedDecision",
]
