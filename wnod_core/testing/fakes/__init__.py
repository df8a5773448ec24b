"""In-memory stand-ins for a batch system and a hypervisor: test tools, not product features.

They keep the interfaces' contracts exactly (``wnod_core.testing.contracts`` proves it
against them), log every call, and let a test inject failures or hold a call back.
"""

from .batch import BAIT_HOST_VAR, EXIT_CODES, JOB_ID_VAR, FakeBatchSystem
from .hypervisor import FakeDomain, FakeHypervisor
from .plugin import FakePlugin
from .recording import Call

__all__ = [
    "BAIT_HOST_VAR",
    "EXIT_CODES",
    "JOB_ID_VAR",
    "Call",
    "FakeBatchSystem",
    "FakeDomain",
    "FakeHypervisor",
    "FakePlugin",
]
