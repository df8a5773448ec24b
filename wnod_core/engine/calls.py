"""Plugin calls: blocking calls run in worker threads, each bounded by ``engine.plugin_timeout``,
and what a call that timed out may still do after wnod stopped waiting.

A thread cannot be stopped: a ``migrate`` that outlived its timeout still binds the job, a
``create`` still makes the domain, a ``release`` still unbinds — later, when wnod has moved
on. A call with an effect therefore names what it touches (its *fences*: a host name, a job,
a VWN). When it times out, those stay fenced until it has ended: placement hands out no VWN
and no slot whose host name is fenced, and migrates no job that is. If the abandoned call
then succeeds after all, its *undo* runs (release the job again, destroy the domain again)
before the fences lift. So no VWN or slot goes to another job while a call about it may land.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import attrs

from ..chain import ResolverChain
from ..errors import BatchSystemError, HypervisorError, PluginError, WnodError
from ..interfaces import BatchSystem, Hypervisor
from ..text import one_line

LOG = logging.getLogger("wnod.engine")

T = TypeVar("T")

PLUGIN_THREADS = 256
"""Plugin calls under way at once, at most. Generous: a call that hangs holds its thread for
good, and must cost one VWN or job, never the threads every other one needs."""

HUNG_PER_PLUGIN = 32
"""Calls of one plugin that outlived their timeout and still run, at most: past that, the plugin
is not called again (its error at once) until one ends. A resolver that hangs on every job must
not take, one job at a time, every thread the batch system's and hypervisor's calls need."""


def host_fence(hostname: str) -> str:
    return f"host:{hostname}"


def job_fence(job_id: str) -> str:
    return f"job:{job_id}"


def vwn_fence(vwn_id: str) -> str:
    return f"vwn:{vwn_id}"


def cpus_fence(vwn_id: str) -> str:
    """A VWN's CPU reservation (mixed mode): a reserve or an end that may still land on it."""
    return f"cpus:{vwn_id}"


Undo = Callable[[], Awaitable[None]]
"""What to do when an abandoned call succeeds after all: make its late effect harmless."""


@attrs.define
class Abandoned:
    """A call that timed out but may still land."""

    what: str
    fences: tuple[str, ...]
    undo: Undo | None
    ended: bool = False
    """The call has returned; its fences stay only while its undo runs, or if that failed."""
    undoing: bool = False


class PluginCalls:
    """The engine's worker threads, and the calls that outlived their timeout."""

    def __init__(self, timeout: Callable[[], float], batch: BatchSystem, hypervisor: Hypervisor):
        self._timeout = timeout
        self._batch = batch
        self._hypervisor = hypervisor
        self.executor = ThreadPoolExecutor(max_workers=PLUGIN_THREADS, thread_name_prefix="wnod-plugin")
        """The engine's own pool: a hung plugin cannot take the event loop's default executor (and
        whatever else uses it) down with it."""
        self._closed = False
        self._fenced: Counter[str] = Counter()
        self.abandoned: list[Abandoned] = []
        """Calls that timed out and have not ended yet, oldest first."""
        self._undoing: set[asyncio.Task[None]] = set()
        self.observer: Callable[[str, str, float, bool], None] | None = None
        """Told of every call that ran (the plugin's kind, the operation, its seconds, whether it
        failed): the daemon's metrics."""
        self._hung: Counter[int] = Counter()
        """Per plugin (by the id of the object whose method is called): its calls that timed out
        and still hold their threads."""

    async def __call__(
        self, function: Callable[..., T], *args: Any, fences: Iterable[str] = (), undo: Undo | None = None
    ) -> T:
        """Run a plugin's blocking `function(*args)` in a worker thread, for at most
        ``engine.plugin_timeout``; a call that takes longer raises its plugin's error
        (BatchSystemError, HypervisorError, PluginError), so the usual handling applies.

        `fences`: what the call's effect touches (``host_fence`` and the like); they stay fenced
        from its timeout until it ends, and `undo` runs first if it then succeeded.
        """
        if self._closed:  # a task that outlived close() (a cancel can be lost): it stops here
            raise asyncio.CancelledError("the engine is closed")
        plugin = id(getattr(function, "__self__", function))
        if self._hung[plugin] >= HUNG_PER_PLUGIN:
            name = getattr(function, "__qualname__", function)
            raise self._error_of(function)(
                f"{name}{_shown(args)} not called: {self._hung[plugin]} calls of its plugin outlived"
                " engine.plugin_timeout and still run; it is called again once one of them ends")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, partial(function, *args))
        timeout = self._timeout()
        began, failed = loop.time(), True
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout)
            failed = False
            return result
        except TimeoutError:
            what = f"{getattr(function, '__qualname__', function)}{_shown(args)}"
            self._hung[plugin] += 1
            future.add_done_callback(lambda _done: self._unhung(plugin))
            fences = tuple(fences)
            if fences:
                self._abandon(future, Abandoned(what, fences, undo))
            raise self._error_of(function)(f"{what} took longer than engine.plugin_timeout ({timeout:g}s)") from None
        finally:
            if self.observer is not None:
                self._observe(function, loop.time() - began, failed)

    def _observe(self, function: Callable[..., Any], seconds: float, failed: bool) -> None:
        assert self.observer is not None
        try:
            self.observer(self._kind_of(function), getattr(function, "__name__", "call"), seconds, failed)
        except Exception:  # metrics must never fail a call
            LOG.exception("the plugin-call observer failed")

    def _kind_of(self, function: Callable[..., Any]) -> str:
        error = self._error_of(function)
        if error is BatchSystemError:
            return "batch_system"
        if error is HypervisorError:
            return "hypervisor"
        owner = getattr(function, "__self__", None)
        return "resolvers" if isinstance(owner, ResolverChain) else "other"

    def _unhung(self, plugin: int) -> None:
        self._hung[plugin] -= 1
        if self._hung[plugin] <= 0:
            del self._hung[plugin]

    def fenced(self, fence: str) -> bool:
        """Whether a call that timed out may still change what `fence` names."""
        return self._fenced[fence] > 0

    def fenced_vwns(self) -> set[str]:
        """The VWN ids a call that timed out may still change (a late create's domain, say)."""
        prefix = vwn_fence("")
        return {fence[len(prefix):] for fence, count in self._fenced.items() if count > 0 and fence.startswith(prefix)}

    def _abandon(self, future: "asyncio.Future[Any]", call: Abandoned) -> None:
        LOG.warning("%s was given up on; it may still take effect: %s stay fenced until it ends",
                    call.what, ", ".join(call.fences))
        self.abandoned.append(call)
        self._fenced.update(call.fences)
        future.add_done_callback(lambda done: self._landed(done, call))

    @property
    def landing(self) -> bool:
        """Whether a call that timed out is still under way, or the undo of one that landed."""
        return any(not call.ended for call in self.abandoned) or bool(self._undoing)

    def _landed(self, future: "asyncio.Future[Any]", call: Abandoned) -> None:
        call.ended = True
        succeeded = not future.cancelled() and future.exception() is None
        if succeeded and call.undo is not None and not self._closed:
            LOG.warning("%s ended after wnod gave up on it; undoing what it did", call.what)
            self._start_undo(call)
        else:
            self._lift(call)

    def retry_undos(self) -> None:
        """Each round: undo again what a failed undo left (its fences held meanwhile)."""
        for call in list(self.abandoned):
            if call.ended and not call.undoing and call.undo is not None and not self._closed:
                self._start_undo(call)

    def _start_undo(self, call: Abandoned) -> None:
        call.undoing = True
        task = asyncio.get_running_loop().create_task(self._undo(call))
        self._undoing.add(task)
        task.add_done_callback(self._undoing.discard)

    async def _undo(self, call: Abandoned) -> None:
        assert call.undo is not None
        try:
            await call.undo()
        except (WnodError, asyncio.CancelledError) as exc:
            # Left fenced, and tried again next round: what it touched is not handed out meanwhile.
            LOG.error("undoing the late %s failed; %s stay fenced, tried again next round: %s", call.what,
                      ", ".join(call.fences), one_line(exc))
            return
        except Exception:
            LOG.exception("undoing the late %s failed; %s stay fenced, tried again next round", call.what,
                          ", ".join(call.fences))
            return
        finally:
            call.undoing = False
        self._lift(call)

    def _lift(self, call: Abandoned) -> None:
        if call in self.abandoned:
            self.abandoned.remove(call)
        self._fenced.subtract(call.fences)
        self._fenced += Counter()  # drop the keys that reached zero

    def _error_of(self, function: Callable[..., Any]) -> type[WnodError]:
        owner = getattr(function, "__self__", None)
        if owner is self._batch or isinstance(owner, BatchSystem):
            return BatchSystemError
        if owner is self._hypervisor or isinstance(owner, Hypervisor):
            return HypervisorError
        return PluginError

    def close(self, *, wait: bool = False) -> None:
        """Take no more calls; those queued are dropped. `wait`: until running ones return."""
        self._closed = True
        for task in list(self._undoing):
            task.cancel()
        self.executor.shutdown(wait=wait, cancel_futures=True)


def _shown(args: tuple[Any, ...]) -> str:
    words = [a for a in args if isinstance(a, str | int | float)]
    return f"({', '.join(map(str, words))})" if words else ""
