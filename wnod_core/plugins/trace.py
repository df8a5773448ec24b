"""``WNOD_TRACE_PLUGINS=1``: log every hook call, the plugins pluggy calls in their order, what came back.

An escape hatch for finding which plugin does what (a listener that never hears, a wrapper that changes an
answer), cheap enough to leave in: without the switch nothing is wrapped and nothing is logged.
"""

import logging
import os
import reprlib
from collections.abc import Callable, Mapping, Sequence

import pluggy

from ..text import one_line

TRACE_PLUGINS_ENV = "WNOD_TRACE_PLUGINS"

LOG = logging.getLogger("wnod.plugins.trace")

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 200  # an event's repr whole, a long list of records cut


def tracing_from_env() -> bool:
    """Set and neither empty nor ``0``: on."""
    return os.environ.get(TRACE_PLUGINS_ENV, "").strip() not in ("", "0")


def start_tracing(pm: pluggy.PluginManager) -> Callable[[], None]:
    """Log each hook call through pluggy's own call monitoring; returns the undo.

    The switch is the admin asking to see the trace, so it shows at the default log level too.
    """
    if LOG.getEffectiveLevel() > logging.DEBUG:
        LOG.setLevel(logging.DEBUG)

    def before(hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, object]) -> None:
        arguments = ", ".join(f"{k}={_SHORT.repr(v)}" for k, v in kwargs.items())
        # pluggy calls its list from the end: wrappers first, then tryfirst, ..., trylast.
        called = ", ".join(i.plugin_name for i in reversed(impls)) or "no plugin"
        LOG.debug("%s(%s) calls %s", hook, arguments, called)

    def after(
        outcome: pluggy.Result[object],
        hook: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, object],
    ) -> None:
        if outcome.exception is not None:
            LOG.debug("%s raised %s", hook, one_line(outcome.exception))
        else:
            LOG.debug("%s done: %s", hook, _SHORT.repr(outcome.get_result()))

    return pm.add_hookcall_monitoring(before, after)


def answered(hook: str, plugin: str, result: object) -> None:
    LOG.debug("%s: %s returned %s", hook, plugin, _SHORT.repr(result))


def failed(hook: str, plugin: str, error: BaseException) -> None:
    LOG.debug("%s: %s raised %s", hook, plugin, one_line(error))
