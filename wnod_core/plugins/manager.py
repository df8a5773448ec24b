"""The typed facade over pluggy. The rest of wnod never calls ``pm.hook`` itself."""

import logging
import traceback
from collections.abc import Sequence
from typing import Any, TypeVar

import attrs
import click
import pluggy

from .. import PROJECT, hookspecs
from ..errors import PluginError
from ..model.events import JobStepped, VwnChanged
from ..records import KINDS, BatchSystemPlugin, HypervisorPlugin, ResolverPlugin
from ..text import did_you_mean, one_line
from .entrypoints import Candidate, allowed_from_env, builtin_candidates, installed_candidates, is_allowed
from .report import PluginReport, Status

LOG = logging.getLogger("wnod.plugins")

_HOOK_OF_KIND = {kind: f"wnod_{kind}" for kind in KINDS}
_SPEC_NAMES = frozenset(n for n in dir(hookspecs) if n.startswith("wnod_"))

R = TypeVar("R")


@attrs.define
class _Entry:
    candidate: Candidate
    status: Status
    obj: object = None
    error: str = ""
    traceback: str = ""
    provides: dict[str, list[str]] = attrs.Factory(dict)
    problems: list[str] = attrs.Factory(list)

    def fail(self, error: str, tb: str = "") -> None:
        self.status, self.error, self.traceback = Status.FAILED, error, tb
        self.provides.clear()


class Plugins:
    """The plugins of this process: loaded once, validated, indexed by kind and name."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._entries: list[_Entry] = []
        self._index: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self._conflicts: dict[str, dict[str, list[str]]] = {kind: {} for kind in KINDS}
        self._commands: dict[str, click.Command] = {}

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        installed: bool = True,
        allowed: frozenset[str] | None = None,
        extra: Sequence[tuple[str, object]] = (),
    ) -> "Plugins":
        """Built-ins, then installed entry points (unless `installed` is False), then `extra`
        (name, object) pairs registered in-process (tests, embedding). `allowed` limits the
        installed ones by name; None reads ``WNOD_LOAD_PLUGINS``."""
        plugins = cls()
        if allowed is None:
            allowed = allowed_from_env()
        candidates = list(builtin_candidates())
        if installed:
            candidates.extend(installed_candidates())
        for candidate in candidates:
            if is_allowed(candidate, allowed):
                plugins._add(candidate, None)
            else:
                plugins._entries.append(_Entry(candidate, Status.DISABLED))
        for name, obj in extra:
            plugins._add(Candidate(name=name, distribution="(in-process)", version="", builtin=False), obj)
        plugins._collect()
        return plugins

    def _add(self, candidate: Candidate, obj: object | None) -> None:
        entry = _Entry(candidate, Status.LOADED)
        self._entries.append(entry)
        try:
            entry.obj = candidate.load() if obj is None else obj
        except Exception as exc:  # any import failure of a third-party plugin must not stop wnod
            entry.fail(f"cannot be imported: {one_line(exc)}", traceback.format_exc())
            LOG.warning("plugin %s (%s) skipped: %s", candidate.name, candidate.distribution, entry.error)
            return
        unknown = [n for n in _marked_hooks(entry.obj) if n not in _SPEC_NAMES]
        if unknown:
            hints = "; ".join(f"{n}{did_you_mean(n, _SPEC_NAMES)}" for n in sorted(unknown))
            entry.fail(f"implements unknown hooks: {hints}")
            return
        try:
            self._pm.register(entry.obj, name=f"{candidate.distribution}:{candidate.name}")
        except Exception as exc:  # pluggy's validation errors: wrong hook arguments and the like
            # pluggy says which hook on its first line and what is wrong on the next ones.
            why = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            entry.fail(f"cannot be registered: {type(exc).__name__}: {why}", traceback.format_exc())
            # Older pluggy may have registered some of its hooks before refusing another:
            # a plugin reported as failed must not hear broadcasts.
            if self._pm.is_registered(entry.obj):
                self._pm.unregister(entry.obj)

    def _collect(self) -> None:
        """Ask every plugin what it provides; a plugin whose registration fails is dropped whole."""
        offered: dict[str, dict[str, list[tuple[_Entry, Any]]]] = {kind: {} for kind in KINDS}
        commands: dict[str, list[tuple[_Entry, click.Command]]] = {}
        for entry in self._entries:
            if entry.status is not Status.LOADED:
                continue
            try:
                mine = {kind: self._call_registration(entry, kind) for kind in KINDS}
                my_commands = self._call_commands(entry)
            except Exception as exc:  # a plugin's own bug, reported against it
                entry.fail(f"failed to register: {one_line(exc)}", traceback.format_exc())
                self._pm.unregister(entry.obj)
                continue
            for kind, records in mine.items():
                for record in records:
                    offered[kind].setdefault(record.name, []).append((entry, record))
                    entry.provides.setdefault(kind, []).append(record.name)
            for command in my_commands:
                commands.setdefault(str(command.name), []).append((entry, command))
                entry.provides.setdefault("commands", []).append(str(command.name))
        for kind, by_name in offered.items():
            for name, providers in by_name.items():
                if len(providers) == 1:
                    self._index[kind][name] = providers[0][1]
                    continue
                dists = [f"{e.candidate.distribution} ({e.candidate.name})" for e, _ in providers]
                self._conflicts[kind][name] = dists
                for entry, _ in providers:
                    entry.problems.append(
                        f'{_singular(kind)} "{name}" is provided by {" and ".join(dists)}; none of them is used'
                    )
        for name, providers in commands.items():
            # The core's own commands win a clash: a plugin must not be able to replace `wnod config`.
            providers.sort(key=lambda p: not p[0].candidate.builtin)
            self._commands[name] = providers[0][1]
            for entry, _ in providers[1:]:
                winner = providers[0][0].candidate.distribution
                entry.problems.append(f'command "{name}" is already provided by {winner}; not added')

    def _call_registration(self, entry: _Entry, kind: str) -> list[Any]:
        record_type = KINDS[kind]
        out = []
        for impl in self._impls(_HOOK_OF_KIND[kind], entry):
            for record in impl.function() or ():
                if not isinstance(record, record_type):
                    raise PluginError(
                        f"{impl.function.__name__} yielded {record!r}, expected {record_type.__name__} records"
                    )
                out.append(record)
        return out

    def _call_commands(self, entry: _Entry) -> list[click.Command]:
        out = []
        for impl in self._impls("wnod_cli_commands", entry):
            for command in impl.function() or ():
                if not isinstance(command, click.Command) or not command.name:
                    raise PluginError(f"wnod_cli_commands yielded {command!r}, expected named click commands")
                out.append(command)
        return out

    def _impls(self, hook: str, entry: _Entry) -> list[pluggy.HookImpl]:
        return [i for i in getattr(self._pm.hook, hook).get_hookimpls() if i.plugin is entry.obj]

    def add_listener(self, name: str, obj: object) -> None:
        """Register an in-process plugin that only listens (the daemon's accounting ledger).

        It hears ``wnod_vwn_changed`` and ``wnod_job_step`` like any plugin; registration
        hooks are refused, as the plugin index is settled by the time the daemon runs.
        """
        declares = [n for n in _marked_hooks(obj) if n in _HOOK_OF_KIND.values() or n == "wnod_cli_commands"]
        if declares:
            raise PluginError(f"listener {name} implements registration hooks ({', '.join(declares)})")
        self._add(Candidate(name=name, distribution="(in-process)", version="", builtin=True), obj)
        entry = self._entries[-1]
        if entry.status is not Status.LOADED:
            raise PluginError(f"listener {name}: {entry.error}")

    # -- what loaded -----------------------------------------------------------------------------

    def reports(self) -> list[PluginReport]:
        return [
            PluginReport(
                name=e.candidate.name,
                distribution=e.candidate.distribution,
                version=e.candidate.version,
                status=e.status,
                builtin=e.candidate.builtin,
                provides={k: tuple(sorted(v)) for k, v in e.provides.items()},
                error=e.error,
                traceback=e.traceback,
                problems=tuple(e.problems),
            )
            for e in self._entries
        ]

    def batch_systems(self) -> dict[str, BatchSystemPlugin]:
        return dict(self._index["batch_systems"])

    def hypervisors(self) -> dict[str, HypervisorPlugin]:
        return dict(self._index["hypervisors"])

    def resolvers(self) -> dict[str, ResolverPlugin]:
        return dict(self._index["resolvers"])

    def commands(self) -> dict[str, click.Command]:
        return dict(self._commands)

    def lookup(self, kind: str, name: str) -> Any:
        """The record of plugin `name` of `kind`; PluginError saying what exists otherwise."""
        index = self._index[kind]
        if name in index:
            return index[name]
        what = _singular(kind)
        if name in self._conflicts[kind]:
            raise PluginError(
                f'{what} "{name}" is provided by {" and ".join(self._conflicts[kind][name])};'
                " uninstall all but one"
            )
        known = ", ".join(sorted(index)) or "none"
        raise PluginError(f'no {what} plugin named "{name}"{did_you_mean(name, index)}; installed: {known}')

    # -- broadcasts ------------------------------------------------------------------------------

    def vwn_changed(self, event: VwnChanged) -> None:
        self._broadcast("wnod_vwn_changed", event=event)

    def job_step(self, event: JobStepped) -> None:
        self._broadcast("wnod_job_step", event=event)

    def _broadcast(self, hook: str, **kwargs: Any) -> None:
        """Call every implementation; one listener's failure must not stop the others or the flow."""
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception:
                LOG.exception("plugin %s failed in %s; carrying on", impl.plugin_name, hook)


def _marked_hooks(obj: object) -> list[str]:
    """Names of the attributes marked ``@hookimpl``: a misspelled one would silently never be
    called, while a plain ``import wnod_core`` in a plugin module is no hook at all."""
    marker = f"{PROJECT}_impl"
    return [n for n in dir(obj) if hasattr(getattr(obj, n, None), marker)]


def _singular(kind: str) -> str:
    return {"batch_systems": "batch system", "hypervisors": "hypervisor", "resolvers": "resolver"}.get(
        kind, kind
    )
