"""Killing an engine at a record write, as SIGKILL would: test tools, not product features.

Every write of the engine's records goes through ``Store.write`` (one transaction each). These
make a store raise ``Killed`` right after a chosen write has committed: the records are exactly
as they were at that moment, and nothing of the flow after it runs — ``Killed`` is a
BaseException, which the engine does not catch. A new engine over the same database then
plays the restarted daemon.
"""

from collections.abc import Callable
from typing import Any

from ..engine import Store
from ..model import VwnState
from ..model.events import JobStep


class Killed(BaseException):
    """The daemon dies: not an Exception, so nothing in the engine can catch it."""


def recorded(records: dict[str, Any]) -> set[JobStep | VwnState]:
    """The job steps and VWN states one ``Store.write`` records."""
    return (
        {f.step for f in records.get("jobs", ())}
        | {v.state for v in records.get("new", ())}
        | {after.state for _before, after in records.get("moves", ())}
    )


def kill_when(store: Store, dies: Callable[[dict[str, Any]], bool]) -> Callable[[], None]:
    """Make `store` raise Killed right after a write for which `dies(records)` holds; returns a
    function that puts the store back."""
    write = store.write

    def dying_write(**records: Any) -> None:
        write(**records)
        if dies(records):
            raise Killed(sorted(map(str, recorded(records))))

    store.write = dying_write  # type: ignore[method-assign]

    def restore() -> None:
        store.write = write  # type: ignore[method-assign]

    return restore


def kill_after(store: Store, target: JobStep | VwnState) -> Callable[[], None]:
    """Killed right after the first write that records `target` (a job step or a VWN state)."""
    return kill_when(store, lambda records: target in recorded(records))


def kill_at_write(store: Store, k: int) -> Callable[[], None]:
    """Killed right after the `k`-th write from now (1 is the next)."""
    count = [0]

    def dies(_records: dict[str, Any]) -> bool:
        count[0] += 1
        return count[0] == k

    return kill_when(store, dies)
