"""The hooks a wnod plugin can implement. This file is the reference manual.

A plugin is a module (or object) registered under the entry-point group ``wnod``;
it implements any of these hooks with ``@wnod_core.hookimpl``. Registration hooks
*declare* what the plugin provides by returning records; the core validates them
and the site's configuration decides what is used. Broadcast hooks are told what
happens; their return value is ignored and their failures are logged, never
allowed to stop the flow.

Nothing outside ``wnod_core.plugins`` calls these hooks directly: the core goes
through the typed facade ``wnod_core.plugins.Plugins``.
"""

from collections.abc import Iterable

import click
import pluggy

from . import PROJECT
from .model.events import JobStepped, VwnChanged
from .records import BatchSystemPlugin, HypervisorPlugin, ResolverPlugin

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def wnod_batch_systems() -> Iterable[BatchSystemPlugin]:
    """Declare batch-system adapters.

    Collect-all: every plugin's records are gathered; a name provided twice is
    refused, naming both distributions.

    Example::

        @hookimpl
        def wnod_batch_systems():
            yield BatchSystemPlugin(name="slurm", factory=SlurmAdapter, options=SlurmOptions,
                                    bait=BaitSide.by_exit_code(read_hook, EXIT_CODES))
    """


@hookspec
def wnod_hypervisors() -> Iterable[HypervisorPlugin]:
    """Declare hypervisor backends.

    Collect-all, like ``wnod_batch_systems``.

    Example::

        @hookimpl
        def wnod_hypervisors():
            yield HypervisorPlugin(name="libvirt", factory=LibvirtBackend, options=LibvirtOptions)
    """


@hookspec
def wnod_resolvers() -> Iterable[ResolverPlugin]:
    """Declare VM-type resolvers, to be chained by the site's ``[[resolvers]]`` tables.

    Collect-all, like ``wnod_batch_systems``.

    Example::

        @hookimpl
        def wnod_resolvers():
            yield ResolverPlugin(name="by-user", factory=ByUser, options=MapOptions)
    """


@hookspec
def wnod_cli_commands() -> Iterable[click.Command]:
    """Add commands to the ``wnod`` CLI.

    Collect-all. A command whose name is already taken is refused and reported
    by ``wnod plugins``; the core's own commands are registered through this hook too.

    Example::

        @hookimpl
        def wnod_cli_commands():
            yield click.Command("site-report", callback=report)
    """


@hookspec
def wnod_vwn_changed(event: VwnChanged) -> None:
    """A VWN moved to a new state.

    Broadcast: every implementation is called, in turn, after the change is
    recorded; an exception in one is logged and the others still run. Keep it
    quick — it is called on the daemon's event loop thread.

    Example::

        @hookimpl
        def wnod_vwn_changed(event):
            metrics.gauge("vwn_state", 1, tags={"vwn": event.vwn.id, "state": event.vwn.state})
    """


@hookspec
def wnod_job_step(event: JobStepped) -> None:
    """A job reached a step of its path through wnod (bait entered, resolved, VWN ready,
    migrated, started, ended, ...).

    Broadcast, like ``wnod_vwn_changed``. Accounting is a plugin of this hook.

    Example::

        @hookimpl
        def wnod_job_step(event):
            if event.step is JobStep.ENDED:
                ledger.write(event.job_id, event.vm_type, event.at)
    """
