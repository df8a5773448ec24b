"""wnod — Worker Nodes On Demand: the core.

Plugins import what they need from here: ``hookimpl`` to implement hooks, the
registration records, the interfaces they implement and the domain model.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("wnod-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

PROJECT = "wnod"
"""The pluggy project name and the entry-point group plugins register under."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorator marking a plugin's hook implementation, e.g. ``@hookimpl def wnod_resolvers(): ...``."""

__all__ = ["PROJECT", "__version__", "hookimpl"]
