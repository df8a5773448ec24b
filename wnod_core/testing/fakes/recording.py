"""What every fake keeps for the test that drives it: a log of the calls it received and
the failures the test asked it to raise.

The log holds interface calls only (what the code under test did), never the test's
own driving of the fake, so assertions on it read as the flow under test.
"""

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import attrs


class _CallerKilled(Exception):
    """A slowed call whose caller died: it ends without its effect."""


@attrs.frozen
class Call:
    """One call of an interface method: ``Call("migrate", ("1001", "vwn-1"))``."""

    method: str
    args: tuple[Any, ...]


Hook = Callable[[tuple[Any, ...]], None]
"""Run with a call's arguments before the fake acts on it; it may block (to stage a race) or raise."""


@attrs.define
class _Injected:
    error: BaseException | None
    """What the call raises; None for a call that is only slowed down."""
    remaining: int | None
    """Calls still to fail; None fails every call until cleared (or until `until`)."""
    until: float | None = None
    """Monotonic time after which this injection is over (a failure that lasts a while)."""
    delay: float = 0.0
    """Seconds the call takes before it acts: its effect lands after a caller that gave up."""


class Recorded:
    """The call log and failure injection a fake inherits. Thread-safe.

    `methods` are the interface methods that may be logged, failed or hooked; naming
    another raises ValueError at once, so a misspelt injection cannot pass silently.
    Its attributes are prefixed ``_rec`` to stay clear of the fake's own.
    """

    def __init__(self, methods: Collection[str]):
        self._rec_methods = frozenset(methods)
        self._rec_lock = threading.Lock()
        self._rec_calls: list[Call] = []
        self._rec_failures: dict[str, list[_Injected]] = {}
        self._rec_hooks: dict[str, list[Hook]] = {}
        self._rec_killed = threading.Event()
        self._rec_slowed = 0

    def _enter(self, method: str, *args: Any) -> None:
        """Log a call, run its hooks, then raise the failure injected for it, if any.

        The fake calls this first thing, before it holds its own lock or changes anything,
        so an injected failure leaves its state untouched and a blocking hook stalls only
        the caller's thread.
        """
        self._rec_check(method)
        with self._rec_lock:
            self._rec_calls.append(Call(method, tuple(args)))
            hooks = list(self._rec_hooks.get(method, ()))
        for hook in hooks:
            hook(tuple(args))
        with self._rec_lock:
            queue = self._rec_failures.get(method, [])
            now = time.monotonic()
            queue[:] = [i for i in queue if i.until is None or i.until > now]
            if not queue:
                return
            injected = queue[0]
            if injected.remaining is not None:
                injected.remaining -= 1
                if injected.remaining == 0:
                    queue.pop(0)
        if injected.delay:
            # Outside the lock: the rest of the fake goes on meanwhile.
            with self._rec_lock:
                self._rec_slowed += 1
            try:
                if self._rec_killed.wait(injected.delay):
                    raise _CallerKilled(f"fake: {method} died with the process that called it")
            finally:
                with self._rec_lock:
                    self._rec_slowed -= 1
        if injected.error is not None:
            raise injected.error

    @property
    def calls(self) -> list[Call]:
        with self._rec_lock:
            return list(self._rec_calls)

    def calls_to(self, method: str) -> list[tuple[Any, ...]]:
        """The arguments of each call of `method`, oldest first."""
        self._rec_check(method)
        with self._rec_lock:
            return [c.args for c in self._rec_calls if c.method == method]

    def clear_calls(self) -> None:
        with self._rec_lock:
            self._rec_calls.clear()

    def fail_next(self, method: str, error: BaseException, times: int | None = 1) -> None:
        """Make the next `times` calls of `method` raise `error` (every call when None).

        Injections for one method queue up: the first is used up before the next applies.
        """
        self._rec_check(method)
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None for always), got {times}")
        with self._rec_lock:
            self._rec_failures.setdefault(method, []).append(_Injected(error, times))

    def fail_for(self, method: str, error: BaseException, seconds: float) -> None:
        """Make every call of `method` raise `error` for the next `seconds`: a failure that lasts."""
        self._rec_check(method)
        with self._rec_lock:
            self._rec_failures.setdefault(method, []).append(
                _Injected(error, None, until=time.monotonic() + seconds)
            )

    def slow_next(self, method: str, seconds: float, times: int | None = 1) -> None:
        """Make the next `times` calls of `method` take `seconds` before they act (every call when
        None). The call then does what it does, as a real command that finished after its caller
        stopped waiting: its effect lands late."""
        self._rec_check(method)
        with self._rec_lock:
            self._rec_failures.setdefault(method, []).append(_Injected(None, times, delay=seconds))

    @property
    def slowed_calls(self) -> int:
        """Slowed calls still waiting to act: a test waits for this to reach 0 instead of
        sleeping for as long as the slowest might take."""
        with self._rec_lock:
            return self._rec_slowed

    def kill_slow_calls(self) -> None:
        """The process that made the slowed calls under way dies: they die with it (as the commands
        of a killed daemon do) and take no effect. Calls slowed from now on are slow again."""
        self._rec_killed.set()
        self._rec_killed = threading.Event()

    def clear_failures(self) -> None:
        with self._rec_lock:
            self._rec_failures.clear()

    def before(self, method: str, hook: Hook) -> Callable[[], None]:
        """Run `hook(args)` before each call of `method` acts; returns a function removing it.

        Hooks run on the caller's thread without the fake's lock held, so a hook waiting
        on a ``threading.Event`` holds that one call back while the rest of the test goes on.
        """
        self._rec_check(method)
        with self._rec_lock:
            self._rec_hooks.setdefault(method, []).append(hook)

        def remove() -> None:
            with self._rec_lock:
                hooks = self._rec_hooks.get(method, [])
                if hook in hooks:
                    hooks.remove(hook)

        return remove

    def _rec_check(self, method: str) -> None:
        if method not in self._rec_methods:
            known = ", ".join(sorted(self._rec_methods))
            raise ValueError(f"{method!r} is not an interface method of this fake; known: {known}")
