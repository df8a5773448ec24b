"""Calling hooks through pluggy, with each plugin's failure kept to that plugin.

pluggy decides who is called and in what order (tryfirst, trylast, the plugin registered
last first, wrappers around the rest, first result where the hookspec says so), but one
implementation that raises ends pluggy's whole call. So pluggy never sees a plugin's own
functions: each plugin is registered as a stand-in whose functions are the plugin's, each
behind a guard that hands a failure to ``on_failure`` and lets the call go on as if that
one implementation had no answer (a wrapper that fails is as if it had not wrapped).
"""

import functools
import inspect
import types
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import pluggy

from .. import PROJECT
from ..errors import PluginError
from . import trace

OnFailure = Callable[[str, Exception], None]
"""``on_failure(hook, error)``: the plugin failed in `hook`; the error's traceback says where."""
Settle = Callable[[str, object], object]
"""``settle(hook, answer)``: what a plugin's answer must be made into before it counts; its errors are
the plugin's. The registration hooks use it to read and check each plugin's records."""


class Marked(NamedTuple):
    """An attribute of a plugin marked ``@hookimpl``, and the hook it implements."""

    attribute: str
    hook: str
    opts: pluggy.HookimplOpts


class Hooks:
    """pluggy's PluginManager for one set of hookspecs, every plugin in it behind guards."""

    def __init__(self, specs: object, *, trace_calls: bool = False) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(specs)
        self._trace = trace_calls
        self.names = frozenset(n for n in dir(specs) if self._pm.parse_hookspec_opts(specs, n) is not None)
        """The hooks there are."""
        if trace_calls:
            trace.start_tracing(self._pm)

    @property
    def call(self) -> pluggy.HookRelay:
        """``hooks.call.wnod_job_step(event=...)``: pluggy's own hook caller."""
        return self._pm.hook

    def marked(self, plugin: object) -> list[Marked]:
        """What pluggy would take for hook implementations of `plugin`, in the order it takes them.

        Only attributes marked ``@hookimpl`` count: a misspelt one would silently never be
        called, while a plain ``import wnod_core`` in a plugin module is no hook at all.
        """
        out = []
        for attribute in dir(plugin):
            opts = self._pm.parse_hookimpl_opts(plugin, attribute)
            if opts is not None:
                out.append(Marked(attribute, opts.get("specname") or attribute, opts))
        return out

    def register(
        self, plugin: object, name: str, *, on_failure: OnFailure, settle: Settle | None = None
    ) -> None:
        """Register `plugin` under `name`, as a stand-in pluggy calls in its place.

        pluggy validates the stand-in as it would the plugin (the guards carry the plugin's
        names and signatures), and its errors are raised as pluggy words them.
        """
        stand_in = types.SimpleNamespace()
        for attribute, hook, opts in self.marked(plugin):
            function = getattr(plugin, attribute)
            guarded = _guard(function, opts, hook, _Charge(name, hook, on_failure, self._trace), settle)
            setattr(guarded, f"{PROJECT}_impl", dict(opts))
            setattr(stand_in, attribute, guarded)
        try:
            self._pm.register(stand_in, name=name)
        except Exception:
            # Older pluggy may have registered some hooks before refusing another:
            # a plugin that is refused must not hear anything.
            if self._pm.is_registered(stand_in):
                self._pm.unregister(stand_in)
            raise

    def unregister(self, name: str) -> None:
        if self._pm.has_plugin(name):
            self._pm.unregister(name=name)


class _Charge:
    """Where one plugin's failure in one hook goes, and what the trace says of its answers."""

    def __init__(self, plugin: str, hook: str, on_failure: OnFailure, traced: bool) -> None:
        self.plugin, self.hook, self._on_failure, self._traced = plugin, hook, on_failure, traced

    def failed(self, error: Exception) -> None:
        if self._traced:
            trace.failed(self.hook, self.plugin, error)
        self._on_failure(self.hook, error)

    def answered(self, result: object) -> None:
        if self._traced:
            trace.answered(self.hook, self.plugin, result)


def _guard(
    function: Callable[..., Any], opts: pluggy.HookimplOpts, hook: str, charge: _Charge, settle: Settle | None
) -> Callable[..., Any]:
    # The guard must look like the function to pluggy: functools.wraps gives it the name and
    # signature pluggy validates and passes arguments by, and a wrapper's guard is a generator
    # function only if the plugin's is (else pluggy refuses it, naming the plugin's function).
    if (opts.get("wrapper") or opts.get("hookwrapper")) and inspect.isgeneratorfunction(function):
        wrap = _new_style if opts.get("wrapper") else _old_style

        @functools.wraps(function)
        def guarded_wrapper(*args: Any, **kwargs: Any) -> Generator[None, Any, object]:
            return (yield from wrap(function(*args, **kwargs), hook, charge))

        return guarded_wrapper

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> object:
        try:
            result = function(*args, **kwargs)
            if settle is not None:
                result = settle(hook, result)
        except Exception as exc:  # the plugin's bug or its outside system's failure: its own
            charge.failed(exc)
            return None
        charge.answered(result)
        return result

    return guarded


def _new_style(
    teardown: Generator[None, object, object], hook: str, charge: _Charge
) -> Generator[None, Any, object]:
    """``wrapper=True``: the plugin's generator gets the others' result and returns the result."""
    if not _started(teardown, hook, charge):
        return (yield)
    try:
        result = yield
    except (
        BaseException
    ) as exc:  # not a plugin's failure (those stop at their guard): shown as pluggy shows it
        try:
            teardown.throw(exc)
        except StopIteration as done:
            return done.value
        raise
    try:
        teardown.send(result)
    except StopIteration as done:
        charge.answered(done.value)
        return done.value
    except Exception as exc:
        charge.failed(exc)
        return result
    teardown.close()
    charge.failed(PluginError(f"{hook} is a wrapper but yielded twice"))
    return result


def _old_style(
    teardown: Generator[None, pluggy.Result[object], None], hook: str, charge: _Charge
) -> Generator[None, Any, None]:
    """``hookwrapper=True``: the plugin's generator gets pluggy's Result and may force another."""
    if not _started(teardown, hook, charge):
        yield
        return
    outcome: pluggy.Result[object] = yield
    sound = outcome.exception is None
    kept = outcome.get_result() if sound else None
    try:
        teardown.send(outcome)
    except StopIteration:
        pass
    except Exception as exc:
        charge.failed(exc)
    else:
        teardown.close()
        charge.failed(PluginError(f"{hook} is a hookwrapper but yielded twice"))
    if not sound:
        return  # no plugin's failure came in (those stop at their guard): what the wrapper made of it stands
    forced = outcome.exception
    if forced is None:
        charge.answered(outcome.get_result())
    elif isinstance(
        forced, Exception
    ):  # a wrapper forcing an exception is that wrapper failing, not the call
        charge.failed(forced)
        outcome.force_result(kept)


def _started(teardown: Generator[Any, Any, Any], hook: str, charge: _Charge) -> bool:
    """Run a wrapper to its yield; False if it failed before it got there."""
    try:
        next(teardown)
    except StopIteration:
        charge.failed(PluginError(f"{hook} is a wrapper but did not yield"))
        return False
    except Exception as exc:
        charge.failed(exc)
        return False
    return True
