"""The typed facade over pluggy. The rest of wnod never calls ``pm.hook`` itself.

Every hook is called through pluggy's own hook caller, so pluggy's order holds (see calls.py
for how one plugin's failure is kept from the others); what a plugin declares is checked and
indexed here, and charged to that plugin.
"""

import functools
import logging
import traceback
from collections.abc import Sequence
from typing import Any, TypeVar, overload

import attrs
import click

from .. import hookspecs
from ..errors import PluginError
from ..model.events import JobStepped, VwnChanged
from ..records import KINDS, BatchSystemPlugin, HypervisorPlugin, ResolverPlugin
from ..text import did_you_mean, one_line
from .calls import Hooks
from .entrypoints import Candidate, allowed_from_env, builtin_candidates, installed_candidates, is_allowed
from .report import PluginReport, Status
from .trace import tracing_from_env

LOG = logging.getLogger("wnod.plugins")

_HOOK_OF_KIND = {kind: f"wnod_{kind}" for kind in KINDS}
_KIND_OF_RECORD = {record: kind for kind, record in KINDS.items()}
_COMMANDS_HOOK = "wnod_cli_commands"
REGISTRATION_HOOKS = (*_HOOK_OF_KIND.values(), _COMMANDS_HOOK)
"""Asked once, as the plugins load, what each plugin provides."""

Record = TypeVar("Record", BatchSystemPlugin, HypervisorPlugin, ResolverPlugin)


@attrs.define
class _Entry:
    candidate: Candidate
    status: Status
    obj: object = None
    registered_as: str = ""
    """Its name in pluggy, while pluggy calls it."""
    error: str = ""
    traceback: str = ""
    declared: dict[str, list[Any]] = attrs.Factory(dict)
    """What its registration hooks yielded, by hook, checked."""
    provides: dict[str, list[str]] = attrs.Factory(dict)
    problems: list[str] = attrs.Factory(list)

    def fail(self, error: str, tb: str = "") -> None:
        if self.status is Status.FAILED:
            return  # the first failure is the one to fix; what followed may be its consequence
        self.status, self.error, self.traceback = Status.FAILED, error, tb
        self.declared.clear()
        self.provides.clear()


class Plugins:
    """The plugins of this process: loaded once, validated, indexed by kind and name."""

    def __init__(self) -> None:
        self._hooks = Hooks(hookspecs, trace_calls=tracing_from_env())
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
        marked = self._hooks.marked(entry.obj)
        unknown = sorted({m.hook for m in marked} - self._hooks.names)
        if unknown:
            hints = "; ".join(f"{n}{did_you_mean(n, self._hooks.names)}" for n in unknown)
            entry.fail(f"implements unknown hooks: {hints}")
            return
        for m in marked:
            mark = "wrapper" if m.opts.get("wrapper") else "hookwrapper" if m.opts.get("hookwrapper") else ""
            if mark and m.hook in REGISTRATION_HOOKS:
                # A wrapper would see, and could change, what the other plugins declare: then
                # `wnod plugins` could not say who provides what, nor a failed plugin give it all up.
                entry.fail(
                    f'cannot be registered: plugin "{candidate.name}" marks {m.hook} {mark}=True, but a'
                    " registration hook cannot be a wrapper: each plugin declares only its own records,"
                    " so that wnod knows which plugin provides what"
                )
                return
        name = f"{candidate.distribution}:{candidate.name}"
        try:
            self._hooks.register(
                entry.obj,
                name,
                on_failure=functools.partial(self._failed, entry),
                settle=functools.partial(self._declared, entry),
            )
        except Exception as exc:  # pluggy's validation errors: wrong hook arguments and the like
            # pluggy says which hook on its first line and what is wrong on the next ones.
            why = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            entry.fail(f"cannot be registered: {type(exc).__name__}: {why}", traceback.format_exc())
            return
        entry.registered_as = name

    def _collect(self) -> None:
        """Ask every plugin what it provides; a plugin whose registration fails is dropped whole."""
        for hook in REGISTRATION_HOOKS:
            getattr(self._hooks.call, hook)()  # each plugin's records land on its entry: see _declared
            self._drop_failed()
        offered: dict[str, dict[str, list[tuple[_Entry, Any]]]] = {kind: {} for kind in KINDS}
        commands: dict[str, list[tuple[_Entry, click.Command]]] = {}
        # In load order, whatever order pluggy asked them in: the first loaded keeps a command.
        for entry in self._entries:
            if entry.status is not Status.LOADED:
                continue
            for kind, hook in _HOOK_OF_KIND.items():
                for record in entry.declared.get(hook, ()):
                    offered[kind].setdefault(record.name, []).append((entry, record))
                    entry.provides.setdefault(kind, []).append(record.name)
            for command in entry.declared.get(_COMMANDS_HOOK, ()):
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

    def _declared(self, entry: _Entry, hook: str, answer: object) -> object:
        """A registration hook's answer, checked and noted as `entry`'s; other hooks' answers as they are.

        Called inside the guard of the plugin's implementation: a record of the wrong type fails that plugin.
        """
        if hook not in REGISTRATION_HOOKS:
            return answer
        records = list(answer or ())  # type: ignore[call-overload]
        for record in records:
            if hook == _COMMANDS_HOOK:
                if not isinstance(record, click.Command) or not record.name:
                    raise PluginError(f"{hook} yielded {record!r}, expected named click commands")
            elif not isinstance(record, record_type := KINDS[hook.removeprefix("wnod_")]):
                raise PluginError(f"{hook} yielded {record!r}, expected {record_type.__name__} records")
        entry.declared.setdefault(hook, []).extend(records)
        return records

    def _failed(self, entry: _Entry, hook: str, error: Exception) -> None:
        """A plugin's hook raised: in a registration hook the plugin fails whole; a broadcast goes on."""
        if hook in REGISTRATION_HOOKS:
            entry.fail(f"failed to register: {one_line(error)}", "".join(traceback.format_exception(error)))
        else:
            LOG.error("plugin %s failed in %s; carrying on", entry.registered_as, hook, exc_info=error)

    def _drop_failed(self) -> None:
        """A failed plugin is called no more: neither by the next registration hook nor by any broadcast."""
        for entry in self._entries:
            if entry.status is Status.FAILED and entry.registered_as:
                self._hooks.unregister(entry.registered_as)
                entry.registered_as = ""

    def add_listener(self, name: str, obj: object) -> None:
        """Register an in-process plugin that only listens (the daemon's accounting ledger).

        It hears ``wnod_vwn_changed`` and ``wnod_job_step`` like any plugin; registration
        hooks are refused, as the plugin index is settled by the time the daemon runs.
        """
        declares = [m.hook for m in self._hooks.marked(obj) if m.hook in REGISTRATION_HOOKS]
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

    @overload
    def lookup(self, kind: type[Record], name: str) -> Record: ...

    @overload
    def lookup(self, kind: str, name: str) -> Any: ...

    def lookup(self, kind: type[Record] | str, name: str) -> Any:
        """The record of plugin `name` of `kind`; PluginError saying what exists otherwise.

        `kind` is the record type (``lookup(BatchSystemPlugin, "slurm")`` is a ``BatchSystemPlugin``)
        or the kind's word in config and docs (``"batch_systems"``, ``"hypervisors"``, ``"resolvers"``).
        """
        if not isinstance(kind, str):
            if kind not in _KIND_OF_RECORD:
                raise TypeError(
                    f"not a kind of plugin: {kind!r}; one of {', '.join(KINDS)} or their record types"
                )
            kind = _KIND_OF_RECORD[kind]
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
        """Every listener hears it, in pluggy's order; one's failure must not stop the others or the flow."""
        try:
            getattr(self._hooks.call, hook)(**kwargs)
        except Exception:  # no plugin's failure (each stops at its guard, in calls.py): wnod's or pluggy's
            LOG.exception("calling %s failed; carrying on", hook)


def _singular(kind: str) -> str:
    return {"batch_systems": "batch system", "hypervisors": "hypervisor", "resolvers": "resolver"}.get(
        kind, kind
    )
