"""Finding plugins: the core's own built-in ones, then the entry-point group ``wnod``."""

import importlib
import os
from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points

import attrs

from .. import PROJECT, __version__

BUILTINS = ("wnod_core.cli.builtin",)
"""Modules of wnod-core registered like any other plugin: the core's own behaviour
goes through the same hooks a site's plugin uses."""

LOAD_PLUGINS_ENV = "WNOD_LOAD_PLUGINS"


@attrs.frozen
class Candidate:
    """A plugin found but not yet loaded."""

    name: str
    distribution: str
    version: str
    builtin: bool
    entry_point: EntryPoint | None = None

    def load(self) -> object:
        if self.entry_point is None:
            return importlib.import_module(self.name)
        return self.entry_point.load()


def builtin_candidates() -> Iterator[Candidate]:
    for module in BUILTINS:
        yield Candidate(name=module, distribution="wnod-core", version=__version__, builtin=True)


def installed_candidates() -> Iterator[Candidate]:
    """Entry points of group ``wnod``, once each even if a distribution is visible twice on sys.path."""
    seen: set[tuple[str, str]] = set()
    for ep in entry_points(group=PROJECT):
        dist = ep.dist
        dist_name = dist.name if dist is not None else "(unknown distribution)"
        key = (dist_name, ep.name)
        if key in seen:
            continue
        seen.add(key)
        yield Candidate(
            name=ep.name,
            distribution=dist_name,
            version=dist.version if dist is not None else "",
            builtin=False,
            entry_point=ep,
        )


def allowed_from_env() -> frozenset[str] | None:
    """``WNOD_LOAD_PLUGINS=a,b`` loads only those installed plugins; empty loads none; unset loads all."""
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def is_allowed(candidate: Candidate, allowed: frozenset[str] | None) -> bool:
    """Built-ins always load; installed plugins by entry-point or distribution name."""
    if candidate.builtin or allowed is None:
        return True
    wanted = {_fold(n) for n in allowed}
    return _fold(candidate.name) in wanted or _fold(candidate.distribution) in wanted


def _fold(name: str) -> str:
    return name.strip().lower().replace("_", "-")
