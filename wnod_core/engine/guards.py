"""One guard per VWN: whatever acts on a VWN — a job's driver, the upkeep, the admin — holds its
guard while it does, so two never act on one VWN at once.

A driver waits for the guard (the upkeep holds one briefly); the upkeep passes by a VWN someone
holds and looks again later; the admin's destroy waits a few seconds for it, then says to try
again; placement neither reuses nor evicts a held VWN, but a job may wait for one to be let go.
The guard is re-entrant for the task that holds it: a driver that holds its VWN
may destroy it, which takes the same guard.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs


@attrs.define
class _Guard:
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)
    owner: "asyncio.Task[object] | None" = None
    depth: int = 0


class Guards:
    def __init__(self) -> None:
        self._guards: dict[str, _Guard] = {}
        self._let_go = asyncio.Event()
        """Set (and replaced) whenever a guard is let go: what `until_let_go` waits on."""

    def held(self, vwn_id: str) -> bool:
        """Whether some task acts on `vwn_id` now."""
        guard = self._guards.get(vwn_id)
        return guard is not None and guard.lock.locked()

    def held_by_another(self, vwn_id: str) -> bool:
        guard = self._guards.get(vwn_id)
        return guard is not None and guard.lock.locked() and guard.owner is not asyncio.current_task()

    @asynccontextmanager
    async def acting_on(self, *vwn_ids: str) -> AsyncIterator[None]:
        """Hold the guards of `vwn_ids` (waiting for them), in one order so two holders never deadlock."""
        taken: list[str] = []
        try:
            for vwn_id in sorted(set(vwn_ids)):
                await self._take(vwn_id)
                taken.append(vwn_id)
            yield
        finally:
            for vwn_id in reversed(taken):
                self._give(vwn_id)

    @asynccontextmanager
    async def if_free(self, *vwn_ids: str) -> AsyncIterator[bool]:
        """Hold the guards of `vwn_ids` if no other task does; yields whether it could (else holds none)."""
        if any(self.held_by_another(vwn_id) for vwn_id in vwn_ids):
            yield False
            return
        async with self.acting_on(*vwn_ids):  # free: taken without waiting
            yield True

    @asynccontextmanager
    async def within(self, seconds: float, *vwn_ids: str) -> AsyncIterator[bool]:
        """Hold the guards of `vwn_ids`, waiting for them at most `seconds` (a round holds one only
        briefly); yields whether it could (else holds none)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            async with self.if_free(*vwn_ids) as free:
                if free:
                    yield True
                    return
            if loop.time() >= deadline:
                yield False
                return
            await asyncio.sleep(0.02)

    async def until_let_go(self, seconds: float) -> None:
        """Return when some guard is let go by its holder, or after `seconds`."""
        # In this task, not one of its own (wait_for's): a driver cancelled while it waits leaves
        # no task behind.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._let_go.wait()

    async def _take(self, vwn_id: str) -> None:
        guard = self._guards.setdefault(vwn_id, _Guard())
        me = asyncio.current_task()
        if guard.owner is me and me is not None:
            guard.depth += 1
            return
        await guard.lock.acquire()
        guard.owner, guard.depth = me, 1

    def _give(self, vwn_id: str) -> None:
        guard = self._guards[vwn_id]
        guard.depth -= 1
        if guard.depth:
            return
        guard.owner = None
        guard.lock.release()
        self._let_go.set()
        self._let_go = asyncio.Event()
        if not guard.lock.locked() and not getattr(guard.lock, "_waiters", None):
            del self._guards[vwn_id]
