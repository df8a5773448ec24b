"""What ``wnod plugins`` shows of each plugin, and its stable JSON form."""

import enum
from typing import Any

import attrs


class Status(enum.StrEnum):
    LOADED = "loaded"
    FAILED = "failed"
    """It could not be imported or registered; it is not used at all."""
    DISABLED = "disabled"
    """Installed, but left out by --no-plugins or WNOD_LOAD_PLUGINS."""


@attrs.frozen
class PluginReport:
    name: str
    distribution: str
    version: str
    status: Status
    builtin: bool = False
    provides: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """Names it registered, by kind (batch_systems, hypervisors, resolvers, commands)."""
    error: str = ""
    """Why it failed, in one line."""
    traceback: str = ""
    problems: tuple[str, ...] = ()
    """Things it registered that cannot be used (a name another plugin provides too)."""

    def to_json(self, *, with_traceback: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": str(self.status),
            "builtin": self.builtin,
            "provides": {kind: list(names) for kind, names in sorted(self.provides.items())},
            "error": self.error or None,
            "problems": list(self.problems),
        }
        if with_traceback:
            out["traceback"] = self.traceback or None
        return out
