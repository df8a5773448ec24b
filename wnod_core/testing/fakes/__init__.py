"""Stand-ins for a batch system and a hypervisor: test tools, not product features.

They keep the interfaces' contracts exactly (``wnod_core.testing.contracts`` proves it
against them), log every call, and let a test inject failures or hold a call back.
``FakeBatchSystem`` and ``FakeHypervisor`` hold their state in memory; their shared
kin, ``SharedFakeBatchSystem`` and ``SharedFakeHypervisor``, follow the same rules over a
SQLite file that a ``wnod`` daemon process and its test share (``shared_plugin`` makes
them the "shared-fake" plugins of such a process).
"""

from .batch import BAIT_HOST_VAR, BAIT_SIDE, EXIT_CODES, JOB_ID_VAR, FakeBatchSystem
from .hypervisor import FakeDomain, FakeHypervisor
from .plugin import FakePlugin
from .recording import Call
from .shared import SharedFakeBatchSystem, SharedFakeHypervisor
from .store import MemoryStore, SqliteStore, Store

__all__ = [
    "BAIT_HOST_VAR",
    "BAIT_SIDE",
    "EXIT_CODES",
    "JOB_ID_VAR",
    "Call",
    "FakeBatchSystem",
    "FakeDomain",
    "FakeHypervisor",
    "FakePlugin",
    "MemoryStore",
    "SharedFakeBatchSystem",
    "SharedFakeHypervisor",
    "SqliteStore",
    "Store",
]
