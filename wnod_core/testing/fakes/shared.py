"""The fake batch system and hypervisor with their state in a file that processes share.

Test tools, not product features. ``FakeBatchSystem`` and ``FakeHypervisor`` keep their
state in memory, so only code in the test's own process can use them. A test of the
real daemon process needs more: the test drives the batch system (submits jobs, starts,
finishes and cancels them, has VWNs join) and watches the hypervisor's domains while
the daemon, another process, calls them through the interfaces — and the state must
survive the daemon being killed with SIGKILL and started again.

``SharedFakeBatchSystem(dir)`` and ``SharedFakeHypervisor(dir)`` are those same fakes,
with the same rules, over one SQLite file in `dir` (``SqliteStore``): every instance over
one directory, in any process, sees one batch system and one hypervisor. The daemon
builds them from its config through the "shared-fake" plugins
(``wnod_core.testing.fakes.shared_plugin``); the test makes its own instances over the
same directory to drive and inspect them.

What differs from the in-memory fakes:

- the call log, injected failures and hooks (``calls``, ``fail_next``, ``before``) are
  each instance's own: a test sees the calls of its own instance, not the daemon's;
- the shared hypervisor reports no events (``watch`` returns False): a change made by
  another process could not reach this one's watchers, so the engine polls;
- with `auto_join`, the shared hypervisor has each VWN's batch daemon join the shared
  batch system of its directory when its domain starts, `join_delay` seconds later (a
  time recorded with the domain, compared with the clock by ``host_ready``: no thread),
  and leave it when the domain crashes, shuts off or is destroyed — in the same
  transaction as the domain's change, so a kill -9 never separates the two.
"""

import time
from collections.abc import Callable
from pathlib import Path

from ...interfaces import DomainState, VwnSpec
from .batch import FakeBatchSystem
from .hypervisor import FakeHypervisor
from .store import SqliteStore

NAME = "shared-fake"
"""The plugin name of the shared fakes, and the ``batch_system`` of the facts the batch system reports."""

DB_NAME = "wnod-shared-fakes.sqlite"
"""The file, in the shared directory, that holds the batch system's and the hypervisor's state."""


def shared_store(directory: Path | str) -> SqliteStore:
    """The SQLite store of the shared fakes over `directory` (made if missing)."""
    return SqliteStore(Path(directory) / DB_NAME)


class SharedFakeBatchSystem(FakeBatchSystem):
    """``FakeBatchSystem``, its state in `directory`'s SQLite file, shared with every other
    instance over that directory in any process. A test tool, never for production."""

    name = NAME

    def __init__(
        self,
        directory: Path | str,
        *,
        store: SqliteStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.store = shared_store(self.directory) if store is None else store
        super().__init__(self.store, clock=clock)


class SharedFakeHypervisor(FakeHypervisor):
    """``FakeHypervisor``, its domains in `directory`'s SQLite file, shared with every other
    instance over that directory in any process. A test tool, never for production.

    Reports no events (the engine polls). With `auto_join`, a VWN whose domain starts
    joins the shared batch system of the same directory `join_delay` seconds later, under
    its hostname, and leaves it when its domain stops running or is destroyed. `clock`
    (wall-clock seconds, as every process must agree on it) times the joins.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        auto_join: bool = False,
        join_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if join_delay < 0:
            raise ValueError(f"join_delay must not be negative, got {join_delay}")
        self.directory = Path(directory)
        self.store = shared_store(self.directory)
        self.auto_join = auto_join
        self.join_delay = join_delay
        super().__init__(reports_events=False, store=self.store)
        self._batch = SharedFakeBatchSystem(self.directory, store=self.store, clock=clock)
        """Same store, same connection: a join commits with the domain change that causes it."""

    def _changed(self, spec: VwnSpec, state: DomainState) -> None:
        if not self.auto_join:
            return
        if state is DomainState.RUNNING:
            self._batch.register_host(spec.hostname, delay=self.join_delay)
        else:
            self._batch.unregister_host(spec.hostname)
